"""Stops the pipeline when TFX's ExampleValidator found anomalies.

ExampleValidator records anomalies but never fails, so without this gate Transform and
the Trainer would go on with bad data. No TFX component does this; it is written here.
"""
from __future__ import annotations

import os
from typing import Dict, List

from tensorflow_data_validation.utils.anomalies_util import load_anomalies_binary

from components.common.errors import DataValidationError
from components.common.text import clip, clip_quoted


def describe_anomaly_info(anomalies, split: str) -> List[str]:
  """One line per anomalous feature of one split's Anomalies proto."""
  problems = []
  for feature, info in sorted(anomalies.anomaly_info.items()):
    # TFDV quotes the offending values: a cell can hold megabytes.
    reasons = '; '.join(clip_quoted(reason.description or reason.short_description)
                        for reason in info.reason) or clip_quoted(info.description)
    problems.append(f'column {clip(feature)!r} ({split} split): {reasons}')
  if anomalies.HasField('dataset_anomaly_info'):
    reasons = '; '.join(clip_quoted(r.description)
                        for r in anomalies.dataset_anomaly_info.reason)
    problems.append(f'the dataset as a whole ({split} split): {reasons}')
  return problems


def describe_anomalies(anomalies_uri: str, split_names: List[str]) -> List[str]:
  """One line per anomalous feature and split, in words a person can act on."""
  problems = []
  for split in split_names:
    path = os.path.join(anomalies_uri, f'Split-{split}', 'SchemaDiff.pb')
    problems += describe_anomaly_info(load_anomalies_binary(path), split)
  return problems


def check(anomalies_uri: str, split_names: List[str], data_location: str,
          schema_location: str) -> None:
  problems = describe_anomalies(anomalies_uri, split_names)
  if problems:
    raise DataValidationError(
        f'Data validation failed for {data_location} against the schema {schema_location}:\n  '
        + '\n  '.join(problems)
        + '\nFix these values in the data, or, if the change is intended, update the schema '
          '(nothing was trained or pushed).')


def check_split_sizes(rows: Dict[str, int], minimum: Dict[str, int], data_location: str,
                      eval_fraction: float) -> None:
  """Stops a run whose splits are too small to train on or to judge the model by, which
  TensorFlow would otherwise report mid-training as `Unexpected result of train_function
  (Empty logs)`."""
  short = [f'{split} {rows.get(split, 0)} (minimum {least})' for split, least in minimum.items()
           if rows.get(split, 0) < least]
  if short:
    counts = ', '.join(f'{split} {count}' for split, count in sorted(rows.items()))
    raise DataValidationError(
        f'Too few rows in {data_location}: {"; ".join(short)}. Rows per split: {counts} '
        f'(eval is {eval_fraction:.0%} of the rows, a random split over rows). Add rows, '
        'or lower data.min_train_rows / data.min_eval_rows (or change data.eval_fraction) '
        'if this little data is intended (nothing was trained or pushed).')


def check_labels(unlabeled: Dict[str, int], label_key: str, data_location: str) -> None:
  """Rows without a label cannot be trained on or scored; ExampleGen leaves them out only
  when asked (data.drop_unlabeled)."""
  if sum(unlabeled.values()):
    counts = ', '.join(f'{split} {count}' for split, count in sorted(unlabeled.items()))
    raise DataValidationError(
        f'{sum(unlabeled.values())} rows of {data_location} have no value in the label column '
        f'{label_key!r} ({counts}). Fill the labels in, remove those rows, or set '
        'data.drop_unlabeled: true to train without them (nothing was trained or pushed).')


def check_drift(drifted: List[str], data_location: str, schema_location: str,
                baseline_uri: str) -> None:
  if drifted:
    raise DataValidationError(
        f'Data drift in {data_location}: its training split differs from the data the last '
        f'accepted run used (statistics in {baseline_uri}) by more than the schema allows:\n  '
        + '\n  '.join(drifted)
        + f'\nIf the data is wrong, fix it. If the world changed and the model should follow, '
          f'raise these columns\' drift_comparator thresholds in {schema_location}, or run once '
          'with data.check_drift: false to accept this data as the new baseline '
          '(nothing was trained or pushed).')
