"""Measures train/eval leakage: eval rows that repeat training rows beyond what the data's
own repetition explains. No TFX component looks for rows shared by two splits (TFDV compares
distributions, not rows), so this check is written here.

A table of discrete columns (surveys, categories, counts) repeats rows by nature: with 12
feature combinations, almost every eval row's features also occur in training under any
split, and that is no leak. So the check compares the observed overlap with what a random
split of this very data gives:

- rows are grouped by their features (the label aside; for the tabular family only the
  columns the model reads, so a copy with a fresh ID column is still a copy);
- a group none of whose rows holds a measured value (a numeric column with many distinct
  values, each in few rows) repeats naturally: a random split with this eval share `f`
  leaves each of its `n` rows in eval with another row of the group in training with probability
  f (1 - f^(n-1)), which sums to the expected overlap (and its variance);
- a group whose features include a measured value repeats by copying (the same 14.2 mm and
  3,650 g twice is a copied record, not chance), so every eval row it shares with training
  is a leak;
- the excess, observed minus expected, stops the run when it is both above
  `max_fraction` of the eval rows and beyond three standard deviations of the random split.

The same pass counts what a user should know about the data: distinct feature rows, repeated
rows, rows whose features repeat with another label and, for a classification, the best
accuracy any model can reach on it (each feature combination answered with its most
frequent label). With a group split (data.split_by), no group may be in both splits.

Memory: an 8-byte digest, a label code and two small codes per row in arrays (about 30 MB
for 1.5M rows), plus each numeric column's distinct values up to 100,000 and the label's
distinct values (one per row, for a continuous regression label).
"""
from __future__ import annotations

import array
import hashlib
import math
import os
import re
from typing import Dict, Iterable, List, Optional, Sequence

import numpy as np
import pydantic
import tensorflow as tf
from tfx import types

from components.common.errors import DataValidationError
from components.common.examples import feature_values, first_value, iter_examples
from components.common.text import clip

REPORT_FILE = 'leakage.json'
# A numeric column with at least this many distinct values holds measurements: two rows that
# agree on one of them (and on every other column) are copies. Fewer for small tables.
MEASURED_VALUES = 50
# ...and whose values each occur in few rows: a plan's deductible or a region's rate has
# many distinct values too, but every one is shared by hundreds of rows.
MAX_ROWS_PER_MEASURED_VALUE = 20
# Distinct values counted per column (a column that reaches it is measured below 2M rows).
_DISTINCT_CAP = 100_000


class LeakageError(DataValidationError):
  """Eval rows repeat training rows beyond what a random split of the data gives."""


class SplitOverlap(pydantic.BaseModel):
  """What `leakage.json` holds: the overlap of the splits and the data's repetition."""
  model_config = pydantic.ConfigDict(extra='forbid')
  train_rows: int
  eval_rows: int
  eval_rows_in_train: int  # eval rows whose features also occur in training
  expected_in_train: float  # the same, as a random split of this data gives on average
  excess: float  # observed minus expected, as a fraction of the eval rows
  copied_eval_rows: int  # eval rows sharing a measured value's whole row with training
  distinct_rows: int  # distinct feature combinations (label aside), both splits
  repeated_rows: int  # rows whose features occur in another row too
  conflicting_rows: int  # rows whose features occur with another label too
  best_accuracy: Optional[float] = None  # classification: a lookup of the majority label
  measured_columns: List[str] = []
  groups_in_both: int = 0  # data.split_by: groups in both splits

  @property
  def fraction(self) -> float:
    return self.eval_rows_in_train / self.eval_rows if self.eval_rows else 0.0

  def write(self, directory: str) -> None:
    with tf.io.gfile.GFile(os.path.join(directory, REPORT_FILE), 'w') as out:
      out.write(self.model_dump_json(indent=1))

  @classmethod
  def read(cls, directory: str) -> 'SplitOverlap':
    with tf.io.gfile.GFile(os.path.join(directory, REPORT_FILE)) as handle:
      return cls.model_validate_json(handle.read())

  def describe(self) -> str:
    """The data's repetition, in a line for the summary and the report."""
    lines = (f'{self.distinct_rows} distinct feature rows in {self.train_rows + self.eval_rows}; '
             f'{self.repeated_rows} rows repeat another, {self.conflicting_rows} with another '
             'label')
    if self.best_accuracy is not None:
      lines += f' (the best accuracy any model can reach on this data: {self.best_accuracy:.4f})'
    return lines


def _label_text(value) -> Optional[str]:
  """A label value as text, exactly (None: the row has no label)."""
  if value is None:
    return None
  if isinstance(value, bytes):
    return value.decode('utf-8', 'replace')
  return str(value) if isinstance(value, int) else repr(value)


class Rows:
  """Per row: a digest of its features, its label's code, whether it is in eval, and the
  set of numeric columns it holds a value in (decided to be measurements at the end), in
  compact arrays: a few bytes a row."""

  def __init__(self, label_key: str, feature_keys: Sequence[str], group_key: Optional[str]):
    self._label_key = label_key
    self._feature_keys = set(feature_keys)
    self._group_key = group_key
    self.digests = array.array('Q')
    self.labels = array.array('q')
    self.in_eval = bytearray()
    self.present = array.array('q')  # a code of the row's numeric columns with a value
    self.present_sets: Dict[frozenset, int] = {}
    self.label_codes: Dict[Optional[str], int] = {}
    self.distinct: Dict[str, set] = {}
    self.present_rows: Dict[str, int] = {}
    self.groups = {'train': set(), 'eval': set()}
    self.label_counts = {'train': {}, 'eval': {}}

  def add(self, serialized: bytes, split: str) -> None:
    example = tf.train.Example.FromString(serialized)
    features = example.features.feature
    label = _label_text(first_value(example, self._label_key))
    counts = self.label_counts[split]
    counts[label] = counts.get(label, 0) + 1
    if self._group_key is not None:
      group = first_value(example, self._group_key)
      if group is not None:
        self.groups[split].add(group)
    for name in list(features):
      if name == self._label_key or (self._feature_keys and name not in self._feature_keys):
        del features[name]
    numeric = []
    for name, feature in features.items():
      kind = feature.WhichOneof('kind')
      if kind in ('float_list', 'int64_list') and len(values := feature_values(feature)):
        numeric.append(name)
        self.present_rows[name] = self.present_rows.get(name, 0) + 1
        seen = self.distinct.setdefault(name, set())
        if len(seen) < _DISTINCT_CAP:
          seen.add(values[0])
    digest = hashlib.blake2b(example.SerializeToString(deterministic=True), digest_size=8)
    self.digests.append(int.from_bytes(digest.digest(), 'little'))
    self.labels.append(self.label_codes.setdefault(label, len(self.label_codes)))
    self.in_eval.append(split == 'eval')
    present = frozenset(numeric)
    self.present.append(self.present_sets.setdefault(present, len(self.present_sets)))

  def measured_columns(self) -> List[str]:
    """Numeric columns with many distinct values, each in few rows: measurements."""
    rows = len(self.digests)
    least = min(MEASURED_VALUES, max(10, rows // 4))
    return sorted(name for name, seen in self.distinct.items() if len(seen) >= least and (
        len(seen) >= _DISTINCT_CAP
        or self.present_rows[name] / len(seen) <= MAX_ROWS_PER_MEASURED_VALUE))


def _random_split_overlap(sizes: np.ndarray, share: float) -> tuple:
  """Mean and variance of the eval rows sharing their group with a training row, summed over
  groups of `sizes` rows each, when every row is in eval with probability `share`."""
  n = sizes.astype(np.float64)
  mean = n * share * (1 - share ** (n - 1))
  # S = X if X < n else 0, X ~ Binomial(n, share): E[S^2] = E[X^2] - n^2 share^n.
  second = n * share * (1 - share) + (n * share) ** 2 - n ** 2 * share ** n
  return float(mean.sum()), float(np.maximum(second - mean ** 2, 0).sum())


def measure(rows: Rows, classification: bool) -> tuple:
  """(SplitOverlap, three standard deviations of the random split's overlap, in rows)."""
  digests = np.frombuffer(rows.digests, dtype=np.uint64)
  labels = np.frombuffer(rows.labels, dtype=np.int64) if len(rows.labels) else np.zeros(0, int)
  in_eval = np.frombuffer(bytes(rows.in_eval), dtype=np.uint8).astype(bool)
  measured = set(rows.measured_columns())
  sets_with_measure = np.array([bool(present & measured) for present in sorted(
      rows.present_sets, key=rows.present_sets.get)] or [False], dtype=bool)
  holds_measure = sets_with_measure[np.frombuffer(rows.present, dtype=np.int64)
                                    if len(rows.present) else np.zeros(0, int)]
  _, group, sizes = np.unique(digests, return_inverse=True, return_counts=True)
  train_in_group = np.bincount(group, weights=~in_eval, minlength=len(sizes))
  eval_in_group = np.bincount(group, weights=in_eval, minlength=len(sizes))
  copied_group = np.bincount(group, weights=holds_measure, minlength=len(sizes)) > 0
  shared = (train_in_group > 0) * eval_in_group
  eval_rows = int(in_eval.sum())
  share = eval_rows / len(digests) if len(digests) else 0.0
  expected, variance = _random_split_overlap(sizes[~copied_group], share)
  # Labels per feature combination: how many rows repeat with another label, and the
  # accuracy of answering each combination with its most frequent label.
  pairs, pair_counts = np.unique(group * max(len(rows.label_codes), 1) + labels,
                                 return_counts=True)
  pair_group = pairs // max(len(rows.label_codes), 1)
  labels_in_group = np.bincount(pair_group, minlength=len(sizes))
  majority = np.zeros(len(sizes))
  np.maximum.at(majority, pair_group, pair_counts)
  observed = int(shared.sum())
  overlap = SplitOverlap(
      train_rows=int(len(digests) - eval_rows), eval_rows=eval_rows,
      eval_rows_in_train=observed, expected_in_train=round(expected, 2),
      excess=round((observed - expected) / eval_rows, 6) if eval_rows else 0.0,
      copied_eval_rows=int(shared[copied_group].sum()),
      distinct_rows=int(len(sizes)), repeated_rows=int(sizes[sizes > 1].sum()),
      conflicting_rows=int(sizes[labels_in_group > 1].sum()),
      best_accuracy=(round(float(majority.sum() / len(digests)), 4)
                     if classification and len(digests) else None),
      measured_columns=sorted(measured),
      groups_in_both=len(rows.groups['train'] & rows.groups['eval']))
  return overlap, 3 * math.sqrt(variance)


def check_overlap(overlap: SplitOverlap, noise: float, max_fraction: float,
                  data_location: str, group_key: Optional[str], groups_seen: int = 0) -> None:
  if group_key and not groups_seen:
    raise LeakageError(
        f'data.split_by {clip(group_key)!r}: no row of {data_location} has a value in that '
        'column, so the rows were split by position, not by group. Name a column of the data '
        '(as ExampleGen reads it: a name a signature cannot carry is read under a safe '
        'spelling, e.g. od280/od315 as od280_od315) (nothing was trained or pushed).')
  if group_key and overlap.groups_in_both:
    raise LeakageError(
        f'Train/eval leakage in {data_location}: {overlap.groups_in_both} value(s) of the '
        f'data.split_by column {clip(group_key)!r} occur in both splits, so one group is '
        'trained on and judged. Check that the column identifies the group, and that data '
        'given split (data.eval_path) keeps each group in one file (nothing was trained or '
        'pushed).')
  excess_rows = overlap.eval_rows_in_train - overlap.expected_in_train
  if overlap.eval_rows and excess_rows / overlap.eval_rows > max_fraction and (
      excess_rows > noise):
    copies = (f' {overlap.copied_eval_rows} of them repeat a whole training row including a '
              f'measured value ({", ".join(overlap.measured_columns[:5])}): copied records, '
              'not the repetition of discrete values.' if overlap.copied_eval_rows else '')
    raise LeakageError(
        f'Train/eval leakage in {data_location}: {overlap.eval_rows_in_train} of '
        f'{overlap.eval_rows} eval rows ({overlap.fraction:.2%}) also appear in the training '
        f'split with the same feature values, where a random split of this data gives '
        f'{overlap.expected_in_train:.0f} ({overlap.expected_in_train / overlap.eval_rows:.2%}'
        f'): an excess of {overlap.excess:.2%} of the eval rows (limit data.max_leakage = '
        f'{max_fraction:.2%}).{copies} Remove the copies (keep one row per record), or, if '
        'the repeats are real observations, raise data.max_leakage (nothing was trained or '
        'pushed).')


def _label_name(value: Optional[str]) -> str:
  return '(empty)' if value is None else repr(clip(value))


def _as_classes(values: Iterable[str], classes: List[str]) -> Optional[Dict[str, str]]:
  """The class each raw label value stands for: the value itself (string labels, the
  tabular family's integer codes), or an index into `classes` (0/1 labels of a family whose
  classes are named, e.g. text's negative/positive); None when the values are neither (a
  label the family derives, as taxi's from the tip)."""
  values = list(values)
  if all(value in classes for value in values):
    return {value: value for value in values}
  numbered = any(re.fullmatch(r'-?\d+', name) for name in classes)  # then values are codes
  if not numbered and all(re.fullmatch(r'\d+', value) and int(value) < len(classes)
                          for value in values):
    return {value: classes[int(value)] for value in values}
  return None


def check_classes(label_counts: Dict[str, Dict[Optional[str], int]], classes: Iterable[str],
                  label_key: str, data_location: str) -> None:
  """A classification needs two classes in training, and every class the model has (the
  config's classes: the served model answers with them) seen in training."""
  classes = list(classes)
  train = {value: count for value, count in label_counts['train'].items() if value is not None}
  named = _as_classes(train, classes)
  seen = set(named.values()) if named is not None else set(train)
  missing = [name for name in classes if name not in seen] if named is not None else []
  if len(seen) >= 2 and not missing:
    return
  found = ', '.join(f'{_label_name(value)}: {count}' for value, count in sorted(
      train.items(), key=lambda item: -item[1])[:10])
  problem = (f'the training split holds {len(seen)} class(es) of the label {label_key!r} '
             f'({found or "no labelled row"})')
  if missing:
    problem += (f' and lacks the class(es) {", ".join(_label_name(name) for name in missing)} '
                f'of the model\'s classes [{", ".join(_label_name(name) for name in classes)}]')
  raise DataValidationError(
      f'The label cannot be learned from {data_location}: {problem}. A model trained on it '
      'could only answer what it saw. Check the data for a filter that dropped rows, or, if '
      'the classes changed on purpose, list them in model.classes (nothing was trained or '
      'pushed; the served model stays).')


def check(examples: types.Artifact, label_key: str, max_fraction: float, data_location: str,
          report_uri: str, feature_keys: Sequence[str] = (), group_key: Optional[str] = None,
          classes: Sequence[str] = ()) -> SplitOverlap:
  """Writes the measurements to the report; raises DataValidationError (LeakageError for
  leakage) when the label cannot be learned or the eval rows leak."""
  rows = Rows(label_key, feature_keys, group_key)
  for split in ('train', 'eval'):
    for record in iter_examples(examples, split):
      rows.add(record, split)
  overlap, noise = measure(rows, classification=bool(classes))
  label_counts = rows.label_counts
  groups_seen = len(rows.groups['train'] | rows.groups['eval'])
  overlap.write(report_uri)
  if classes:
    check_classes(label_counts, classes, label_key, data_location)
  check_overlap(overlap, noise, max_fraction, data_location, group_key, groups_seen)
  return overlap
