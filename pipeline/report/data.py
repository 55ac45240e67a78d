"""What the report shows about the data: per-split statistics, the schema in use, and how
both changed since the previous run. Read from the run's StatisticsGen and schema artifacts."""
from __future__ import annotations

import dataclasses
import os
from typing import Dict, List, Optional, Tuple

import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

_STANDARD = statistics_pb2.Histogram.STANDARD


@dataclasses.dataclass
class FeatureStats:
  name: str
  type: str
  missing: float  # fraction of rows without a value
  summary: str  # 'min · mean · max' of a number, top values of a string
  mean: Optional[float]  # numbers only: what "changed" compares
  buckets: Tuple[List[str], List[float]]  # histogram labels and counts


def split_names(uri: str) -> List[str]:
  """The splits of an artifact with Split-<name> folders (statistics, anomalies)."""
  return sorted(name[len('Split-'):] for name in os.listdir(uri) if name.startswith('Split-'))


def split_statistics(uri: str) -> Dict[str, statistics_pb2.DatasetFeatureStatistics]:
  """Split name -> statistics of a StatisticsGen artifact."""
  return {split: tfdv.load_stats_binary(
      os.path.join(uri, f'Split-{split}', 'FeatureStats.pb')).datasets[0]
          for split in split_names(uri)}


def _numeric(feature, rows: int) -> FeatureStats:
  stats = feature.num_stats
  standard = [h for h in stats.histograms if h.type == _STANDARD]
  buckets = standard[0].buckets if standard else []
  return FeatureStats(
      '.'.join(feature.path.step), statistics_pb2.FeatureNameStatistics.Type.Name(feature.type),
      stats.common_stats.num_missing / max(rows, 1),
      f'min {stats.min:.4g} · mean {stats.mean:.4g} · max {stats.max:.4g}', stats.mean,
      ([f'{b.low_value:.5g}' for b in buckets[:1]]
       + [f'{b.high_value:.5g}' for b in buckets[-1:]], [b.sample_count for b in buckets]))


def _categorical(feature, rows: int) -> FeatureStats:
  stats = feature.string_stats
  present = max(rows - stats.common_stats.num_missing, 1)
  top = ', '.join(f'{v.value} {v.frequency / present:.0%}' for v in stats.top_values[:4])
  ranked = stats.rank_histogram.buckets[:12]
  return FeatureStats(
      '.'.join(feature.path.step), 'STRING', stats.common_stats.num_missing / max(rows, 1),
      f'{stats.unique} values; {top}', None,
      ([b.label for b in ranked[:1]] + [b.label for b in ranked[-1:]],
       [b.sample_count for b in ranked]))


def features(dataset: statistics_pb2.DatasetFeatureStatistics) -> List[FeatureStats]:
  rows = dataset.num_examples
  return [(_numeric if feature.HasField('num_stats') else _categorical)(feature, rows)
          for feature in sorted(dataset.features, key=lambda f: f.path.step[:])
          if feature.HasField('num_stats') or feature.HasField('string_stats')]


def describe_feature(feature: schema_pb2.Feature, schema: schema_pb2.Schema) -> Dict[str, str]:
  """A schema feature as the report's columns: type, presence, domain, drift threshold."""
  domain = ''
  if feature.HasField('int_domain') or feature.HasField('float_domain'):
    bounds = feature.int_domain if feature.HasField('int_domain') else feature.float_domain
    domain = ', '.join([f'>= {bounds.min:g}'] * bounds.HasField('min')
                       + [f'<= {bounds.max:g}'] * bounds.HasField('max'))
  elif feature.domain:
    values = next((d.value for d in schema.string_domain if d.name == feature.domain), [])
    domain = ', '.join(values)
  comparator = feature.drift_comparator
  drift = (f'L-inf {comparator.infinity_norm.threshold:g}'
           if comparator.HasField('infinity_norm') else
           f'JSD {comparator.jensen_shannon_divergence.threshold:g}'
           if comparator.HasField('jensen_shannon_divergence') else '')
  return {'type': schema_pb2.FeatureType.Name(feature.type),
          'presence': f'{feature.presence.min_fraction:.0%}'
                      if feature.presence.HasField('min_fraction') else '',
          'domain': domain, 'drift threshold': drift,
          'not in': ', '.join(feature.not_in_environment)}


def schema_changes(previous: schema_pb2.Schema, current: schema_pb2.Schema) -> List[str]:
  """Features added, removed or redefined between two schemas, in words."""
  before = {f.name: f for f in previous.feature}
  after = {f.name: f for f in current.feature}
  changes = [f'{name}: added' for name in sorted(after.keys() - before.keys())]
  changes += [f'{name}: removed' for name in sorted(before.keys() - after.keys())]
  for name in sorted(before.keys() & after.keys()):
    old, new = describe_feature(before[name], previous), describe_feature(after[name], current)
    changes += [f'{name}: {key} {old[key] or "(none)"} -> {new[key] or "(none)"}'
                for key in old if old[key] != new[key]]
  return changes


def statistics_changes(previous: Dict[str, statistics_pb2.DatasetFeatureStatistics],
                       current: Dict[str, statistics_pb2.DatasetFeatureStatistics]
                       ) -> List[Tuple[str, str, str]]:
  """(what, before, now) for the rows per split and each feature's missing share and mean."""
  changes = []
  for split in sorted(current.keys() & previous.keys()):
    if previous[split].num_examples != current[split].num_examples:
      changes.append((f'{split} rows', str(previous[split].num_examples),
                      str(current[split].num_examples)))
  if 'train' not in previous or 'train' not in current:
    return changes
  before = {f.name: f for f in features(previous['train'])}
  for feature in features(current['train']):
    old = before.get(feature.name)
    if old is None:
      continue
    if abs(old.missing - feature.missing) >= 0.005:
      changes.append((f'{feature.name} missing', f'{old.missing:.1%}', f'{feature.missing:.1%}'))
    if feature.mean is not None and old.mean is not None and not _close(old.mean, feature.mean):
      changes.append((f'{feature.name} mean', f'{old.mean:.4g}', f'{feature.mean:.4g}'))
  return changes


def _close(a: float, b: float) -> bool:
  return abs(a - b) <= 1e-3 * max(abs(a), abs(b), 1e-9)
