"""Builds, measures and gates the TFLite variants of a trained model.

1. The trained SavedModel's `mobile` signature (raw features, an image or token ids in) is
   converted to TFLite: float32, dynamic-range, float16 and int8 (integer weights and
   activations, calibrated on training rows).
2. The Keras model is pruned (then stripped) and, from the pruned one, trained
   quantization-aware with the prune-preserving scheme; both are saved as SavedModels
   (ML Metadata Model artifacts) and converted to int8.
3. Each variant is converted, given its TFLite Metadata (labels, normalization, tokenizer)
   and measured in a child process (variant.py): a converter crash costs that variant only.
   The LiteRT interpreter runs it on the eval rows: accuracy (AUC for binary tasks), size,
   gzipped size, batch-1 latency, the largest difference from the SavedModel's
   probabilities, and top-1 agreement with its serving_default by the file's own labels.
4. An image or text family's variants are also run by the TFLite Task Library, from the
   file alone, as an app runs them (task_library.py): its answers must agree with the
   interpreter's on at least 99% of the eval rows, or the metadata is wrong.
5. A variant is eligible when its accuracy drop against the float SavedModel and its size
   are within budget (and the Task Library agrees); the eligible one with the smallest
   gzipped size is selected for the mobile push.
"""
from __future__ import annotations

import json
import logging
import os
from typing import Any, Dict, List, Optional

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import path_utils

from base import signature_names
from base.settings import TFLITE_SOURCES, OptimizationSection, from_exec_property
from components.common import mobile_inputs, task_library, tflite_measure, tflite_metadata
from components.common.artifacts import OPTIMIZATION_REPORT_FILE
from components.common.examples import read_examples, without_label
from components.model_optimizer import compress, variant
from models.common import training
from models.common.family import Family, ImageInput, TokenInput, load_family

progress = logging.getLogger('forge.progress')

# Top-1 agreement between the Task Library and the LiteRT interpreter on the same file,
# below which the metadata (labels, normalization, tokenizer) does not describe the model.
MIN_TASK_LIBRARY_AGREEMENT = 0.99


class _EvalRows:
  """Eval rows as mobile-signature inputs, their labels (class indices, or a regression's
  values), and per source SavedModel its mobile outputs and serving_default classes; rows
  whose label is not a known class are dropped."""

  def __init__(self, trained, examples: types.Artifact, family: Family, count: int):
    rows = read_examples(examples, 'eval', count)
    transformed = trained.signatures[signature_names.TRANSFORM_FEATURES](examples=tf.constant(rows))
    labels = transformed[family.transformed_label_key].numpy().reshape(-1)
    known = np.isfinite(labels) if family.is_regression else labels >= 0
    self.family = family
    self.rows = [row for row, keep in zip(rows, known) if keep]
    self.labels = labels[known]
    self.columns = mobile_inputs.columns(trained, self.rows, family)
    self.references: Dict[str, Any] = {'trained': self._answers(trained)}

  def reference(self, source: str, path: str) -> Dict[str, Any]:
    """A source SavedModel's mobile outputs, and the classes its serving_default gives (the
    SavedModel at `path` is loaded the first time its source is asked for)."""
    if source not in self.references:
      self.references[source] = self._answers(tf.saved_model.load(path))
    return self.references[source]

  def _answers(self, saved_model) -> Dict[str, Any]:
    (outputs,) = saved_model.signatures[signature_names.MOBILE](
        **{name: tf.constant(values) for name, values in self.columns.items()}).values()
    classes = None
    if not self.family.is_regression:
      serving = saved_model.signatures[signature_names.SERVING_DEFAULT]
      unlabeled = [without_label(row, self.family.label_key) for row in self.rows]
      classes = [name.decode() for name in
                 serving(examples=tf.constant(unlabeled))['predicted_class'].numpy()]
    return {'outputs': outputs.numpy(), 'classes': classes}


def _model_info(family: Family, tft_output, input_specs, about: Dict[str, str]) -> Dict[str, Any]:
  """What tflite_metadata.write puts in each file; the pusher sets the version."""
  info = {**about, 'version': '', 'class_names': list(family.class_names)}
  kind = family.mobile_input
  if isinstance(kind, ImageInput):
    return {**info, 'kind': 'image', 'input_description': (
        f'{kind.height}x{kind.width} RGB image; each channel holds the raw {kind.feature} '
        'values (the model scales them itself).')}
  if isinstance(kind, TokenInput):
    vocabulary = [word.decode('utf-8') for word in tft_output.vocabulary_by_name(kind.feature)]
    return {**info, 'kind': 'tokens', 'delimiter': kind.delimiter,
            'vocabulary': tflite_metadata.vocabulary_lines(vocabulary, kind.padding,
                                                           TokenInput.spellings),
            'input_description': f'Token ids of the {kind.feature}, {kind.length} per text.'}
  return {**info, 'kind': 'table',
          'inputs': {name: f'Raw feature {name} ({spec.dtype.name}; empty string or NaN: '
                           'missing).' for name, spec in sorted(input_specs.items())},
          'output_description': 'The prediction, in the label\'s units.'}


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
    agreement = row.get('task_library_top1_vs_litert')
    if agreement is not None and agreement < MIN_TASK_LIBRARY_AGREEMENT:
      missed.append(f'the TFLite Task Library, reading the file as an app does, agrees with the '
                    f'interpreter on {agreement:.1%} of the eval rows (< '
                    f'{MIN_TASK_LIBRARY_AGREEMENT:.0%}): the metadata (labels, normalization, '
                    'tokenizer) does not describe the model, or its scores are too close to '
                    'call' + (f' ({row["task_library_error"]})'
                              if 'task_library_error' in row else ''))
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
    variant.start_server()  # its TensorFlow import overlaps with the work before variant 1
    try:
      self._optimize(input_dict, output_dict, exec_properties)
    finally:
      variant.stop_server()

  def _optimize(self, input_dict, output_dict, exec_properties) -> None:
    settings, beside = from_exec_property(exec_properties['settings'], OptimizationSection)
    # With its body: importing the family's model module registers its Keras layers
    # (forge>OneHot, ...), which pruning's and QAT's clones look up by name. Without it a
    # run whose Trainer came from the cache could not clone the model for QAT.
    family = load_family(exec_properties['family'], beside.get('family_spec'), with_body=True)
    training.seed_randomness(beside['seed'])  # the config's training.seed: pruning, QAT
    single = artifact_utils.get_single_instance
    model_dir = path_utils.serving_model_path(single(input_dict['model']).uri)
    tft_output = tft.TFTransformOutput(single(input_dict['transform_graph']).uri)
    examples = single(input_dict['examples'])
    trained = tf.saved_model.load(model_dir)
    evaluation = _EvalRows(trained, examples, family, settings.eval_rows)
    input_specs = mobile_inputs.input_specs(trained)
    calibration = None
    if any(name.endswith('int8') for name in settings.variants):
      calibration = mobile_inputs.columns(
          trained, read_examples(examples, 'train', settings.calibration_rows), family)
    reference = evaluation.references['trained']
    report: Dict[str, Any] = {
        'family': family.name, 'eval_rows': int(len(evaluation.labels)),
        'class_names': list(family.class_names),
        'task': family.task,
        'savedmodel': tflite_measure.quality(reference['outputs'], evaluation.labels,
                                             family.is_regression),
        'budgets': {'accuracy_points': settings.accuracy_budget,
                    'rmse_increase': settings.rmse_budget,
                    'size_kb': settings.size_budget_kb},
        'inputs': {name: {'dtype': spec.dtype.name, 'shape': [-1] + spec.shape.as_list()[1:]}
                   for name, spec in sorted(input_specs.items())},
        'variants': {}, 'not_built': {}, 'sparsity': {}, 'sources': {'trained': model_dir},
    }
    tflite_dir = single(output_dict['tflite_models']).uri
    tf.io.gfile.makedirs(tflite_dir)
    info = _model_info(family, tft_output, input_specs, beside['model_info'])
    litert_top1: Dict[str, Optional[List[int]]] = {}
    for name in settings.variants:
      source = TFLITE_SOURCES[name]
      if source not in report['sources'] and 'compression_failed' not in report:
        report['sources'].update(self._compress(model_dir, input_dict, output_dict, settings,
                                                family, tft_output,
                                                exec_properties['batch_size'], report))
      if source not in report['sources']:
        report['not_built'][name] = report['compression_failed'][source]
        continue
      source_reference = evaluation.reference(source, report['sources'][source])
      progress.info('  ModelOptimizer builds and measures %s (LiteRT interpreter)', name)
      answer = variant.build_isolated(variant.Request(
          variant=name, saved_model_dir=report['sources'][source],
          output_path=os.path.join(tflite_dir, f'{name}.tflite'),
          calibration=calibration if name.endswith('int8') else None,
          int8_io=settings.int8_io and name.endswith('int8'), columns=evaluation.columns,
          labels=evaluation.labels, reference=source_reference['outputs'],
          reference_classes=source_reference['classes'], latency_runs=settings.latency_runs,
          threads=settings.threads, regression=family.is_regression, metadata=info))
      if 'ops' in answer:  # the graph itself: no variant can build
        report['not_built'] = {variant_name: answer['refused'] for variant_name in settings.variants}
        report['tensorflow_ops_needed'] = answer['ops']
        break
      if 'refused' in answer:
        report['not_built'][name] = answer['refused']
        continue
      litert_top1[name] = answer['measured'].pop('litert_top1', None)
      report['variants'][name] = {'source': source, **answer['measured']}
    if family.mobile_input is not None and report['variants']:
      self._run_in_task_library(family, evaluation, tflite_dir, litert_top1, report)
    report['selected'] = _select(report['variants'], report['savedmodel'], settings)
    report_artifact = single(output_dict['report'])
    with tf.io.gfile.GFile(os.path.join(report_artifact.uri, OPTIMIZATION_REPORT_FILE), 'w') as out:
      json.dump(report, out, indent=1)
    report_artifact.set_string_custom_property('selected_variant', report['selected'] or '')

  @staticmethod
  def _run_in_task_library(family: Family, evaluation: _EvalRows, tflite_dir: str,
                           litert_top1: Dict[str, Optional[List[int]]],
                           report: Dict[str, Any]) -> None:
    """Each built variant classifies the eval rows in the Task Library, from the file
    alone; records its top-1 agreement with the interpreter and with the SavedModel."""
    kind = task_library.IMAGE if isinstance(family.mobile_input, ImageInput) else task_library.TEXT
    progress.info('  ModelOptimizer runs %d variant(s) in the TFLite Task Library (%s)',
                  len(report['variants']), 'ImageClassifier' if kind == task_library.IMAGE
                  else 'NLClassifier')
    answers = task_library.classify(
        kind, {name: os.path.join(tflite_dir, f'{name}.tflite') for name in report['variants']},
        mobile_inputs.task_library_inputs(evaluation.rows, family))
    for name, row in report['variants'].items():
      answer = answers[name]
      if isinstance(answer, str):
        row['task_library_error'] = answer
        row['task_library_top1_vs_litert'] = 0.0
        continue
      litert = np.array(litert_top1[name])
      classes = np.array(answer['classes'])
      row['task_library_top1_vs_litert'] = float(np.mean(
          classes == np.array(family.class_names)[litert]))
      row['task_library_top1_vs_savedmodel'] = float(np.mean(
          classes == np.array(evaluation.references[row['source']]['classes'])))

  def _compress(self, model_dir: str, input_dict, output_dict, settings, family: Family,
                tft_output, batch_size: int, report: Dict[str, Any]) -> Dict[str, str]:
    """Prunes, then trains quantization-aware from the pruned model; returns the
    SavedModel directory of each."""
    single = artifact_utils.get_single_instance
    trained = tf.keras.models.load_model(model_dir)
    train = training.transformed_split([a.uri for a in input_dict['transformed_examples']],
                                      'train', tft_output, family, batch_size, repeat=True)
    failed = report.setdefault('compression_failed', {})
    progress.info('  ModelOptimizer prunes to %.0f%% sparsity (%d steps)',
                  settings.target_sparsity * 100, settings.prune_steps)
    try:
      pruned = compress.prune(trained, family, train, settings.prune_steps,
                              settings.target_sparsity, settings.learning_rate)
    except compress.NotSupported as err:
      failed.update(pruned=str(err), qat=str(err))
      return {}
    report['sparsity'] = compress.kernel_sparsity(pruned)
    sources = {'pruned': training.save_for_serving(
        pruned, single(output_dict['pruned_model']).uri, tft_output, family)}
    if 'pruned_qat_int8' in settings.variants:
      progress.info('  ModelOptimizer trains quantization-aware (%d steps)',
                    settings.qat_steps)
      try:
        quantized = compress.quantization_aware(pruned, family, train, settings.qat_steps,
                                                settings.learning_rate)
      except compress.NotSupported as err:
        failed['qat'] = str(err)
        return sources
      sources['qat'] = training.save_for_serving(
          quantized, single(output_dict['qat_model']).uri, tft_output, family)
    return sources
