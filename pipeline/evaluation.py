"""TFMA evaluation config from the config's gates: value thresholds on the eval split and
no-regression change thresholds against the last blessed model."""
from __future__ import annotations

import tensorflow_model_analysis as tfma

from models.common.family import Family
from pipeline.config import GatesSection

# Config metric name -> TFMA metric class for regression.
_REGRESSION_CLASSES = {
    'rmse': 'RootMeanSquaredError',
    'mae': 'MeanAbsoluteError',
    'loss': 'MeanSquaredError',
}
# Config metric name -> TFMA metric class for (binary, multi-class) tasks.
_METRIC_CLASSES = {
    'accuracy': ('BinaryAccuracy', 'SparseCategoricalAccuracy'),
    'auc': ('AUC', None),
    'precision': ('Precision', None),
    'recall': ('Recall', None),
    # The eval loss, computed by TFMA (not by reloading the model in Keras; see eval_config).
    'loss': ('BinaryCrossentropy', 'SparseCategoricalCrossentropy'),
}
# Smallest allowed drop: "no worse than the baseline", as in TFX's examples.
_NO_REGRESSION = 1e-10


def metric_class(metric: str, family: Family) -> str:
  if family.is_regression:
    if metric not in _REGRESSION_CLASSES:
      raise ValueError(f'gates.metrics.{metric}: a classification metric; the {family.name} '
                       'family is a regression. Gate on rmse or mae instead.')
    return _REGRESSION_CLASSES[metric]
  if metric not in _METRIC_CLASSES:
    raise ValueError(f'gates.metrics.{metric}: a regression metric; the {family.name} '
                     'family is a classification. Gate on accuracy instead.')
  binary_class, multiclass_class = _METRIC_CLASSES[metric]
  chosen = binary_class if family.is_binary else multiclass_class
  if chosen is None:
    raise ValueError(f'gates.metrics.{metric}: only defined for binary tasks; the '
                     f'{family.name} family has {len(family.class_names)} classes. '
                     'Gate on accuracy instead.')
  return chosen


def _threshold(gate) -> tfma.MetricThreshold | None:
  threshold = tfma.MetricThreshold()
  if gate.min is not None:
    threshold.value_threshold.lower_bound.value = gate.min
  if gate.max is not None:
    threshold.value_threshold.upper_bound.value = gate.max
  if gate.max_drop is not None:
    threshold.change_threshold.direction = tfma.MetricDirection.HIGHER_IS_BETTER
    threshold.change_threshold.absolute.value = -max(gate.max_drop, _NO_REGRESSION)
  if gate.max_increase is not None:
    threshold.change_threshold.direction = tfma.MetricDirection.LOWER_IS_BETTER
    threshold.change_threshold.absolute.value = max(gate.max_increase, _NO_REGRESSION)
  return threshold


def eval_config(family: Family, gates: GatesSection) -> tfma.EvalConfig:
  if family.is_regression:
    reported = ['loss', 'rmse', 'mae']
  elif family.is_binary:
    reported = ['loss', 'accuracy', 'auc', 'precision', 'recall']
  else:
    reported = ['loss', 'accuracy']
  metrics = [tfma.MetricConfig(class_name='ExampleCount')]
  for metric in sorted(set(reported) | set(gates.metrics)):
    config = tfma.MetricConfig(class_name=metric_class(metric, family))
    if metric in gates.metrics:
      # On the overall slice only: a plain `threshold` would gate every reported slice too
      # (AUC is 0 on a slice holding one class).
      config.per_slice_thresholds.add(slicing_specs=[tfma.SlicingSpec()]).threshold.CopyFrom(
          _threshold(gates.metrics[metric]))
    metrics.append(config)
  return tfma.EvalConfig(
      # tf_generic: TFMA calls the signatures of the SavedModel. Left unset, it loads the
      # model in Keras once to find its type and again to recompute the compiled metrics,
      # 11 of the Evaluator's 18 s on taxi (measured), for metrics it computes anyway.
      model_specs=[tfma.ModelSpec(
          model_type='tf_generic',
          signature_name='serving_default',
          label_key=family.transformed_label_key,
          prediction_key=family.output_key,
          preprocessing_function_names=['transform_features'])],
      slicing_specs=[tfma.SlicingSpec()] + [tfma.SlicingSpec(feature_keys=[feature])
                                            for feature in gates.slices],
      metrics_specs=[tfma.MetricsSpec(metrics=metrics)])
