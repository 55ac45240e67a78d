"""What `forge init --data` learns by fitting a peer on the table: where the quality gate
can sit, and how much the rows repeat.

A fixed share of the gap above the majority class is a bar nobody may pass (a survey table
where the best peer scores 0.704 got `accuracy.min 0.7098`). Instead, scikit-learn's
HistGradientBoosting (the usual strong baseline for tables) is fitted on the rows the
pipeline will train on and scored on the rows it will judge on: the same split by position
(components/example_gen/split.py), on a sample of at most SAMPLE_ROWS rows. The gate sits
a stated margin below the peer, never below the trivial model.

The repetition figures (distinct feature rows, repeated rows, rows whose features repeat
with another label, the best accuracy any model can reach) come from LeakageCheck's own
counting (components/leakage_check), over the columns the model reads.
"""
from __future__ import annotations

import dataclasses
import math
import random
from typing import Dict, List, Optional, Tuple

import numpy as np
import tensorflow as tf

from components.common.examples import first_value
from components.example_gen.split import PositionSplit, split_buckets
from components.leakage_check.executor import Rows, SplitOverlap, measure

SAMPLE_ROWS = 50_000
# The gate: this far below the peer's eval accuracy, or this factor above its RMSE (the
# project's quality target for the tabular family against HistGradientBoosting).
ACCURACY_MARGIN = 0.02
RMSE_FACTOR = 1.10
# HistGradientBoosting takes categories as codes below its bin count.
_MAX_CATEGORIES = 254


@dataclasses.dataclass
class Peer:
  name: str
  metric: str  # 'accuracy' or 'rmse'
  score: float  # on the eval rows of the pipeline's split
  trivial: float  # the same of the trivial model (the training rows' majority class or mean)
  eval_rows: int
  sampled: bool  # fitted on a sample of the table


class Sample:
  """A uniform sample (reservoir) of the table's rows with the split each goes to."""

  def __init__(self, eval_fraction: float, seed: int = 0, size: int = SAMPLE_ROWS):
    self._place = PositionSplit(split_buckets(eval_fraction), seed)
    self._size = size
    self._random = random.Random(seed)
    self.rows: List[Tuple[bool, bytes]] = []  # (in eval, serialized example)
    self.seen = 0

  def add(self, file_key: str, number: int, example: tf.train.Example) -> None:
    self.seen += 1
    row = (self._place(file_key, number) == 1, example.SerializeToString())
    if len(self.rows) < self._size:
      self.rows.append(row)
    else:
      slot = self._random.randrange(self.seen)
      if slot < self._size:
        self.rows[slot] = row


def repetition(sample: Sample, label: str, features: List[str],
               classification: bool) -> SplitOverlap:
  """LeakageCheck's figures for the sampled rows, compared by the model's columns."""
  rows = Rows(label, features, None)
  for in_eval, serialized in sample.rows:
    rows.add(serialized, 'eval' if in_eval else 'train')
  return measure(rows, classification)[0]


def _matrix(examples: List[tf.train.Example],
            roles: Dict[str, str]) -> Tuple[np.ndarray, List[bool]]:
  """One column per feature: numbers as they are (NaN when missing), categories as codes of
  their most frequent values (the rest, and missing, NaN)."""
  columns, categorical = [], []
  for name, role in sorted(roles.items()):
    values = [first_value(example, name) for example in examples]
    if role == 'categorical':
      counts: Dict[object, int] = {}
      for value in values:
        if value is not None:
          counts[value] = counts.get(value, 0) + 1
      codes = {value: code for code, value in enumerate(
          sorted(counts, key=lambda v: -counts[v])[:_MAX_CATEGORIES])}
      columns.append([codes.get(value, math.nan) for value in values])
      categorical.append(True)
    else:
      columns.append([math.nan if value is None else float(value) for value in values])
      categorical.append(False)
  return np.array(columns, dtype=np.float64).T, categorical


def fit_peer(sample: Sample, label: str, roles: Dict[str, str], task: str) -> Optional[Peer]:
  """HistGradientBoosting on the sample's training rows, scored on its eval rows; None when
  either part is too small to say anything."""
  from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
  examples = [(in_eval, tf.train.Example.FromString(serialized))
              for in_eval, serialized in sample.rows]
  labelled = [(in_eval, example) for in_eval, example in examples
              if first_value(example, label) is not None]
  in_eval = np.array([flag for flag, _ in labelled])
  if in_eval.sum() < 5 or (~in_eval).sum() < 20 or not roles:
    return None
  features, categorical = _matrix([example for _, example in labelled], roles)
  targets = [first_value(example, label) for _, example in labelled]
  # Early stopping on a tenth of the training rows at every size (scikit-learn's default
  # turns it on above 10,000 rows only): on a few hundred noisy rows the default fit
  # overfits below the majority rate.
  common = dict(categorical_features=categorical, random_state=0, early_stopping=True,
                learning_rate=0.05, max_iter=300, min_samples_leaf=10)
  if task == 'classification':
    names = np.array([value.decode() if isinstance(value, bytes) else str(value)
                      for value in targets])
    # Early stopping holds out a stratified share: a class with one training row breaks it.
    common['early_stopping'] = bool(
        np.unique(names[~in_eval], return_counts=True)[1].min() >= 10)
    model = HistGradientBoostingClassifier(**common).fit(features[~in_eval], names[~in_eval])
    score = float(np.mean(model.predict(features[in_eval]) == names[in_eval]))
    seen, counts = np.unique(names[~in_eval], return_counts=True)
    trivial = float(np.mean(names[in_eval] == seen[np.argmax(counts)]))
    metric = 'accuracy'
  else:
    values = np.array(targets, dtype=np.float64)
    model = HistGradientBoostingRegressor(**common).fit(features[~in_eval], values[~in_eval])
    score = float(np.sqrt(np.mean((model.predict(features[in_eval]) - values[in_eval]) ** 2)))
    trivial = float(np.sqrt(np.mean((values[~in_eval].mean() - values[in_eval]) ** 2)))
    metric = 'rmse'
  return Peer('HistGradientBoosting', metric, score, trivial, int(in_eval.sum()),
              sampled=sample.seen > len(sample.rows))
