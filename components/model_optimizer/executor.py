"""Builds, measures and gates the TFLite variants of a trained model.

1. The trained SavedModel's `mobile` signature (raw features in) is converted to TFLite:
   float32, dynamic-range, float16 and int8 (integer weights and activations, calibrated
   on training rows).
2. The Keras model is pruned (then stripped) and, from the pruned one, trained
   quantization-aware with the prune-preserving scheme; both are saved as SavedModels
   (ML Metadata Model artifacts) and converted to int8.
3. Each .tflite runs through the LiteRT interpreter on the eval rows: accuracy (AUC for
   binary tasks), size, gzipped size, batch-1 latency and the largest difference from the
   SavedModel's probabilities.
4. A variant is eligible when its accuracy drop against the float SavedModel and its size
   are within budget; the eligible one with the smallest gzipped size is selected for the
   mobile push.
"""
from __future__ import annotations

import json
import logging
import os
from typing import Any, Dict, List

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import path_utils

from base import signature_names
from base.settings import TFLITE_SOURCES, OptimizationSection, from_exec_property
from components.common import tflite_measure
from components.common.artifacts import OPTIMIZATION_REPORT_FILE
from components.common.examples import raw_columns, read_examples
from components.model_optimizer import compress, convert
from models.common import training
from models.common.family import Family, load_family

progress = logging.getLogger('forge.progress')


class _EvalRows:
  """Raw eval rows as mobile-signature inputs, their labels (class indices, or a
  regression's values) and the float SavedModel's outputs; rows whose label is not a known
  class are dropped."""

  def __init__(self, trained, examples: types.Artifact, family: Family, count: int):
    rows = read_examples(examples, 'eval', count)
    transformed = trained.signatures[signature_names.TRANSFORM_FEATURES](examples=tf.constant(rows))
    labels = transformed[family.transformed_label_key].numpy().reshape(-1)
    known = np.isfinite(labels) if family.is_regression else labels >= 0
    self.input_specs = trained.signatures[signature_names.MOBILE].structured_input_signature[1]
    self.labels = labels[known]
    self.columns = {name: values[known]
                    for name, values in raw_columns(rows, self.input_specs).items()}
    self.reference = self.outputs(trained)

  def outputs(self, saved_model) -> np.ndarray:
    """A SavedModel's outputs for these rows, through its `mobile` signature."""
    (values,) = saved_model.signatures[signature_names.MOBILE](
        **{name: tf.constant(values) for name, values in self.columns.items()}).values()
    return values.numpy()


def _calibration_rows(examples: types.Artifact, input_specs, count: int):
  """Training rows, one at a time, for int8 calibration (the converter calls this)."""
  columns = raw_columns(read_examples(examples, 'train', count), input_specs)

  def rows():
    for index in range(len(next(iter(columns.values())))):
      yield {name: values[index:index + 1] for name, values in columns.items()}

  return rows


def _quality_budget(row: Dict[str, Any], reference: Dict[str, float],
                    settings: OptimizationSection) -> List[str]:
  """Records the variant's loss of quality against the float SavedModel; returns the
  budget it missed, if any: accuracy points, or a regression's relative RMSE increase."""
  if 'rmse' in reference:
    row['rmse_increase'] = row['rmse'] / reference['rmse'] - 1 if reference['rmse'] else 0.0
    if row['rmse_increase'] > settings.rmse_budget + 1e-9:
      return [f'RMSE {row["rmse_increase"]:+.2%} > budget +{settings.rmse_budget:.2%} '
              '(optimization.rmse_budget)']
    return []
  row['accuracy_drop_points'] = (reference['accuracy'] - row['accuracy']) * 100
  if row['accuracy_drop_points'] > settings.accuracy_budget + 1e-9:
    return [f'accuracy drop {row["accuracy_drop_points"]:.2f} points > budget '
            f'{settings.accuracy_budget:.2f} (optimization.accuracy_budget)']
  return []


def _select(table: Dict[str, Dict[str, Any]], reference: Dict[str, float],
            settings: OptimizationSection) -> str | None:
  """Marks each measured variant eligible or not, with the budgets it missed; returns the
  eligible one with the smallest gzipped size."""
  for row in table.values():
    missed = _quality_budget(row, reference, settings)
    size_budget = settings.size_budget_kb
    if size_budget and row['size_bytes'] / 1024 > size_budget:
      missed.append(f'size {row["size_bytes"] / 1024:.1f} KB > budget {size_budget:.1f} KB '
                    '(optimization.size_budget_kb)')
    row['eligible'] = not missed
    row['missed'] = missed
  eligible = [name for name, row in table.items() if row['eligible']]
  # Smallest download: app stores and over-the-air updates ship the file compressed, where
  # pruned zeros count; ties go to the smaller file on the device.
  return min(eligible, key=lambda name: (table[name]['gzip_bytes'], table[name]['size_bytes']),
             default=None)


class Executor(base_executor.BaseExecutor):

  def Do(self, input_dict: Dict[str, List[types.Artifact]],
         output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]) -> None:
    settings, beside = from_exec_property(exec_properties['settings'], OptimizationSection)
    family = load_family(exec_properties['family'], beside.get('family_spec'))
    single = artifact_utils.get_single_instance
    model_dir = path_utils.serving_model_path(single(input_dict['model']).uri)
    tft_output = tft.TFTransformOutput(single(input_dict['transform_graph']).uri)
    examples = single(input_dict['examples'])
    trained = tf.saved_model.load(model_dir)
    evaluation = _EvalRows(trained, examples, family, settings.eval_rows)
    calibration = _calibration_rows(examples, evaluation.input_specs,
                                    settings.calibration_rows)
    report: Dict[str, Any] = {
        'family': family.name, 'eval_rows': int(len(evaluation.labels)),
        'class_names': list(family.class_names),
        'task': family.task,
        'savedmodel': tflite_measure.quality(evaluation.reference, evaluation.labels,
                                             family.is_regression),
        'budgets': {'accuracy_points': settings.accuracy_budget,
                    'rmse_increase': settings.rmse_budget,
                    'size_kb': settings.size_budget_kb},
        'inputs': {name: {'dtype': spec.dtype.name, 'shape': [-1] + spec.shape.as_list()[1:]}
                   for name, spec in sorted(evaluation.input_specs.items())},
        'variants': {}, 'not_built': {}, 'sparsity': {},
    }
    models, sources = self._convert(model_dir, input_dict, output_dict, settings, family,
                                    tft_output, exec_properties['batch_size'], calibration,
                                    report)
    tflite_dir = single(output_dict['tflite_models']).uri
    tf.io.gfile.makedirs(tflite_dir)
    # Conversion fidelity: each variant against the SavedModel it was converted from.
    references = {source: (evaluation.reference if source == 'trained'
                           else evaluation.outputs(tf.saved_model.load(path)))
                  for source, path in sources.items()}
    for variant, model in models.items():
      progress.info('  ModelOptimizer measures %s with the LiteRT interpreter', variant)
      with tf.io.gfile.GFile(os.path.join(tflite_dir, f'{variant}.tflite'), 'wb') as out:
        out.write(model)
      source = TFLITE_SOURCES[variant]
      report['variants'][variant] = {'source': source, **tflite_measure.measure(
          model, evaluation.columns, evaluation.labels, references[source],
          settings.latency_runs, settings.threads, family.is_regression)}
    report['selected'] = _select(report['variants'], report['savedmodel'], settings)
    report_artifact = single(output_dict['report'])
    with tf.io.gfile.GFile(os.path.join(report_artifact.uri, OPTIMIZATION_REPORT_FILE), 'w') as out:
      json.dump(report, out, indent=1)
    report_artifact.set_string_custom_property('selected_variant', report['selected'] or '')

  def _convert(self, model_dir: str, input_dict, output_dict, settings, family: Family,
               tft_output, batch_size: int, calibration, report: Dict[str, Any]):
    """The .tflite bytes of each variant that converts, and the SavedModel directory of
    each source model (trained, pruned, qat) they came from. Variants that do not convert
    go to report['not_built'] with the reason."""
    sources = {'trained': model_dir}
    models: Dict[str, bytes] = {}
    try:
      for variant in settings.variants:
        source = TFLITE_SOURCES[variant]
        if source not in sources:
          sources.update(self._compress(model_dir, input_dict, output_dict, settings, family,
                                        tft_output, batch_size, report))
        progress.info('  ModelOptimizer converts %s', variant)
        try:
          models[variant] = convert.convert(sources[source], variant, calibration,
                                            settings.int8_io and variant.endswith('int8'))
        except convert.ConversionFailed as err:
          report['not_built'][variant] = str(err)
    except convert.NeedsTensorFlowOps as err:  # raised by the first conversion
      report['not_built'] = {variant: str(err) for variant in settings.variants}
      report['tensorflow_ops_needed'] = err.ops
    return models, sources

  def _compress(self, model_dir: str, input_dict, output_dict, settings, family: Family,
                tft_output, batch_size: int, report: Dict[str, Any]) -> Dict[str, str]:
    """Prunes, then trains quantization-aware from the pruned model; returns the
    SavedModel directory of each."""
    single = artifact_utils.get_single_instance
    trained = tf.keras.models.load_model(model_dir)
    train = training.transformed_split([a.uri for a in input_dict['transformed_examples']],
                                      'train', tft_output, family, batch_size, repeat=True)
    progress.info('  ModelOptimizer prunes to %.0f%% sparsity (%d steps)',
                  settings.target_sparsity * 100, settings.prune_steps)
    pruned = compress.prune(trained, family, train, settings.prune_steps,
                            settings.target_sparsity, settings.learning_rate)
    report['sparsity'] = compress.kernel_sparsity(pruned)
    sources = {'pruned': training.save_for_serving(
        pruned, single(output_dict['pruned_model']).uri, tft_output, family)}
    if 'pruned_qat_int8' in settings.variants:
      progress.info('  ModelOptimizer trains quantization-aware (%d steps)',
                    settings.qat_steps)
      quantized = compress.quantization_aware(pruned, family, train, settings.qat_steps,
                                              settings.learning_rate)
      sources['qat'] = training.save_for_serving(
          quantized, single(output_dict['qat_model']).uri, tft_output, family)
    return sources
