"""What the report shows about the data: per-split statistics, the schema in use, and how
both changed since the previous run. Read from the run's StatisticsGen and schema artifacts."""
from __future__ import annotations

from typing import Dict, List, Tuple

from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

from components.common.statistics import describe_feature, features

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
