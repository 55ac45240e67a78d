"""What `forge init --data` learns from a table: per column its type (as CsvExampleGen
infers it), missing rate, distinct values, moments, and what the tabular family will do
with it; the label's task and classes; TFDV statistics for the schema.

The examples come from components/example_gen/in_process.py, so the types are the
pipeline's own. Memory stays bounded: distinct values are counted up to DISTINCT_CAP per
column, and TFDV's statistics are merged batch by batch.
"""
from __future__ import annotations

import collections
import dataclasses
import math
import re
from typing import Dict, Iterable, List, Optional

import tensorflow as tf
from tensorflow_data_validation.statistics import stats_impl, stats_options
from tensorflow_metadata.proto.v0 import statistics_pb2
from tfx_bsl.coders import example_coder

from components.common.examples import feature_values

DISTINCT_CAP = 100_000
BATCH = 10_000
# A label with at most this many distinct integer values is a class label.
MAX_INTEGER_CLASSES = 20
# Integer codes: few distinct non-negative values (see models/tabular/features.CODE_BUCKETS).
MAX_CODES = 20
CODE_LIMIT = 64
# |skewness| above 1 is "highly skewed" by the usual rule of thumb.
SKEWNESS = 1.0
MIN_ROWS_FOR_ID = 20
# A string column with more distinct values than this share of its rows names things.
MOSTLY_UNIQUE = 0.5
_DATE = re.compile(r'^\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2})?.*)?$'
                   r'|^\d{1,2}/\d{1,2}/\d{2,4}( \d{1,2}:\d{2}.*)?$')


class ProfileError(ValueError):
  """The data or label cannot make a tabular model; the message names the column and fix."""


@dataclasses.dataclass
class Column:
  name: str
  kind: str = 'empty'  # 'int', 'float', 'string' or 'empty' (no value anywhere)
  present: int = 0
  counts: collections.Counter = dataclasses.field(default_factory=collections.Counter)
  overflow: bool = False  # more than DISTINCT_CAP distinct values
  total: float = 0.0
  squares: float = 0.0
  cubes: float = 0.0
  low: float = math.inf
  high: float = -math.inf
  text_chars: int = 0
  text_words: int = 0
  dates: int = 0
  longest: int = 0  # the most values one row holds
  role: str = ''
  why: str = ''

  def add(self, values: list) -> None:
    if not values:
      return
    self.longest = max(self.longest, len(values))
    value = values[0]
    self.present += 1
    if not self.overflow:
      self.counts[value] += 1
      if len(self.counts) > DISTINCT_CAP:
        self.overflow = True
    if isinstance(value, bytes):
      text = value.decode('utf-8', 'replace')
      self.text_chars += len(text)
      self.text_words += len(text.split())
      self.dates += bool(_DATE.match(text.strip()))
    else:
      number = float(value)
      if math.isfinite(number):
        self.total += number
        self.squares += number * number
        self.cubes += number ** 3
        self.low, self.high = min(self.low, number), max(self.high, number)

  @property
  def distinct(self) -> int:
    return len(self.counts)

  @property
  def mean(self) -> float:
    return self.total / self.present if self.present else 0.0

  @property
  def std(self) -> float:
    return math.sqrt(max(self.squares / self.present - self.mean ** 2, 0.0)) if self.present else 0.0

  @property
  def skewness(self) -> float:
    if not self.present or not self.std:
      return 0.0
    mean, std, n = self.mean, self.std, self.present
    third = self.cubes / n - 3 * mean * self.squares / n + 2 * mean ** 3
    return third / std ** 3

  def missing_rate(self, rows: int) -> float:
    return 1 - self.present / rows if rows else 0.0


@dataclasses.dataclass
class Profile:
  rows: int
  columns: Dict[str, Column]
  statistics: statistics_pb2.DatasetFeatureStatisticsList
  label: Column
  task: str
  classes: List[str]
  # Set by forge init after profiling (pipeline/table_baseline.py): the fitted peer and the
  # rows' repetition (a leakage_check SplitOverlap).
  peer: Optional[object] = None
  repetition: Optional[object] = None


def _kind(feature: tf.train.Feature) -> Optional[str]:
  return {'int64_list': 'int', 'float_list': 'float', 'bytes_list': 'string'}.get(
      feature.WhichOneof('kind'))


class _Statistics:
  """TFDV's in-memory statistics over batches, merged as its combiners merge them."""

  def __init__(self):
    self._options = stats_options.StatsOptions()
    self._generators = stats_impl.get_generators(self._options, in_memory=True)
    self._accumulators = None
    self._decoder = example_coder.ExamplesToRecordBatchDecoder()

  def add(self, serialized: List[bytes]) -> None:
    partial = stats_impl.generate_partial_statistics_in_memory(
        self._decoder.DecodeBatch(serialized), self._options, self._generators)
    self._accumulators = partial if self._accumulators is None else [
        generator.merge_accumulators([old, new])
        for generator, old, new in zip(self._generators, self._accumulators, partial)]

  def result(self) -> statistics_pb2.DatasetFeatureStatisticsList:
    return stats_impl.extract_statistics_output(self._accumulators, self._generators)


def profile(examples: Iterable[tf.train.Example], label: str, task: Optional[str],
            data_location: str) -> Profile:
  columns: Dict[str, Column] = {}
  statistics = _Statistics()
  batch, rows = [], 0
  for example in examples:
    rows += 1
    for name, feature in example.features.feature.items():
      column = columns.setdefault(name, Column(name))
      kind = _kind(feature)
      if kind and column.kind == 'empty':
        column.kind = kind
      column.add(list(feature_values(feature)))
    batch.append(example.SerializeToString())
    if len(batch) == BATCH:
      statistics.add(batch)
      batch = []
  if batch:
    statistics.add(batch)
  if not rows:
    raise ProfileError(f'{data_location}: no rows to learn from.')
  if label not in columns:
    raise ProfileError(f'--label {label!r}: {data_location} has no such column; its columns '
                       f'are {", ".join(sorted(columns))}.')
  target = columns[label]
  if not target.present:
    raise ProfileError(f'--label {label!r}: every value of the column is empty in '
                       f'{data_location}; pick a column with values ({", ".join(sorted(columns))}).')
  if target.distinct == 1:
    raise ProfileError(f'--label {label!r}: the column holds one value '
                       f'({next(iter(target.counts))!r}) in every row, so there is nothing to '
                       f'predict; pick another ({", ".join(sorted(columns))}).')
  task = _task(target, task)
  classes = _classes(target) if task == 'classification' else []
  for column in columns.values():
    if column.name != label:
      column.role, column.why = _role(column, rows)
  return Profile(rows, columns, statistics.result(), target, task, classes)


def _task(label: Column, requested: Optional[str]) -> str:
  inferred = ('classification' if label.kind == 'string' or (
      label.kind == 'int' and label.distinct <= MAX_INTEGER_CLASSES) else 'regression')
  if requested == 'regression' and label.kind == 'string':
    raise ProfileError(f'--task regression: the label {label.name!r} holds text '
                       f'(e.g. {next(iter(label.counts))!r}); a regression needs numbers.')
  if requested == 'classification' and label.kind == 'float':
    raise ProfileError(f'--task classification: the label {label.name!r} holds fractional '
                       'numbers; make them class names or integers, or use --task regression.')
  if requested == 'classification' and label.overflow:
    raise ProfileError(f'--task classification: the label {label.name!r} has more than '
                       f'{DISTINCT_CAP} distinct values.')
  return requested or inferred


def _classes(label: Column) -> List[str]:
  if label.kind == 'int':
    return [str(value) for value in sorted(label.counts)]
  return sorted(value.decode('utf-8') for value in label.counts)


def _role(column: Column, rows: int) -> tuple:
  """(role, why): a FeatureRoles key, or '' for a column left out, and the reason."""
  if not column.present:
    return '', 'left out: no value in any row'
  if column.longest > 1:
    return '', (f'left out: a list of up to {column.longest} values per row (the tabular '
                'family takes one value per column)')
  if column.distinct == 1 and not column.overflow:
    return '', 'left out: constant (one value in every row)'
  unique = column.overflow or (column.distinct == column.present
                               and column.present >= MIN_ROWS_FOR_ID)
  if column.kind == 'string':
    if column.dates >= 0.9 * column.present:
      return '', ('left out: dates (derive year, month or weekday columns from it to use '
                  'them)')
    if column.text_words / column.present > 5 and column.distinct > 0.5 * column.present:
      return '', 'left out: free text (the text family models text)'
    if unique:
      return '', 'left out: ID-like (a different value in every row)'
    if column.present >= MIN_ROWS_FOR_ID and column.distinct > MOSTLY_UNIQUE * column.present:
      # Names, codes, model numbers: a vocabulary of mostly one-row words teaches nothing.
      return '', (f'left out: ID-like ({column.distinct} distinct values in '
                  f'{column.present} rows: mostly unique)')
    return 'categorical', f'categorical, vocabulary of {column.distinct}'
  if column.kind == 'int':
    if unique and column.high - column.low + 1 <= 1.1 * column.present:
      return '', 'left out: ID-like (consecutive integers, unique per row)'
    if column.distinct <= MAX_CODES and column.low >= 0 and column.high < CODE_LIMIT:
      return 'integer_code', f'integer code, {column.distinct} values, one-hot'
  if abs(column.skewness) > SKEWNESS:
    return 'skewed', f'numeric, skewed ({column.skewness:.1f}): scaled + quantile buckets'
  return 'numeric', 'numeric: scaled'
