"""What the Evaluator (TFMA) found, read from its ModelEvaluation artifact: metrics overall
and per slice, differences against the baseline model, and the failed gates in words. The
run summary and the model card both read it from here."""
from __future__ import annotations

import dataclasses
from typing import Dict, List

import tensorflow_model_analysis as tfma


def _slice_name(slice_key) -> str:
  parts = []
  for key in slice_key.single_slice_keys:
    value = getattr(key, key.WhichOneof('kind'))
    parts.append(f'{key.column}:{value.decode() if isinstance(value, bytes) else value}')
  return ', '.join(parts)


@dataclasses.dataclass
class Metrics:
  """The candidate's metrics per slice ('' for all eval rows, else 'feature:value'), and on
  all eval rows its difference from the baseline per metric (empty without a baseline)."""
  by_slice: Dict[str, Dict[str, float]]
  differences: Dict[str, float]

  @property
  def overall(self) -> Dict[str, float]:
    return self.by_slice.get('', {})


def read_metrics(evaluation_uri: str) -> Metrics:
  """Both, from one read of TFMA's metrics."""
  metrics = Metrics({}, {})
  for metrics_for_slice in tfma.load_metrics(evaluation_uri):
    name = _slice_name(metrics_for_slice.slice_key)
    values = metrics.by_slice.setdefault(name, {})
    for entry in metrics_for_slice.metric_keys_and_values:
      if not entry.value.HasField('double_value'):
        continue
      if not entry.key.is_diff:
        if entry.key.model_name != 'baseline':
          values[entry.key.name] = entry.value.double_value.value
      elif not name:
        metrics.differences[entry.key.name] = entry.value.double_value.value
  return metrics


def overall_metrics(evaluation_uri: str) -> Dict[str, float]:
  return read_metrics(evaluation_uri).overall


def describe_failure(failure) -> str:
  """'accuracy: 0.3431, below the minimum 0.9000', or the change against the baseline."""
  name = failure.metric_key.name
  value = failure.metric_value.double_value.value
  threshold = failure.metric_threshold
  if failure.metric_key.is_diff:
    allowed = abs(threshold.change_threshold.absolute.value)
    if threshold.change_threshold.direction == tfma.MetricDirection.LOWER_IS_BETTER:
      text = (f'{name}: {value:+.4f} against the last blessed model, a larger increase than '
              f'the {allowed:.4f} allowed (max_increase)')
    else:
      text = (f'{name}: {value:+.4f} against the last blessed model, a larger drop than the '
              f'{allowed:.4f} allowed (max_drop)')
  else:
    bounds = threshold.value_threshold
    limits = ([f'below the minimum {bounds.lower_bound.value:.4f}']
              if bounds.HasField('lower_bound') else []) + (
              [f'above the maximum {bounds.upper_bound.value:.4f}']
              if bounds.HasField('upper_bound') else [])
    text = f'{name}: {value:.4f}, {" or ".join(limits) or "outside its threshold"}'
  return f'{text} ({failure.message})' if failure.message else text


def gate_failures(evaluation_uri: str) -> List[str]:
  result = tfma.load_validation_result(evaluation_uri)
  return [describe_failure(failure) for per_slice in result.metric_validations_per_slice
          for failure in per_slice.failures]
