"""A StatisticsGen artifact's statistics per split, and each feature summarised in a line;
a Schema artifact's schema, and a feature of it described in words. The gate, the run report
and the model card read them here."""
from __future__ import annotations

import dataclasses
import os
from typing import Dict, List, Optional, Tuple

import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2
from tfx.utils import io_utils

from components.common.text import clip

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
  top = ', '.join(f'{clip(v.value)} {v.frequency / present:.0%}' for v in stats.top_values[:4])
  ranked = stats.rank_histogram.buckets[:12]
  return FeatureStats(
      '.'.join(feature.path.step), 'STRING', stats.common_stats.num_missing / max(rows, 1),
      f'{stats.unique} values; {top}', None,
      ([clip(b.label) for b in ranked[:1]] + [clip(b.label) for b in ranked[-1:]],
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
    domain = ', '.join(clip(value) for value in values)
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


def read_schema(schema_uri: str) -> schema_pb2.Schema:
  """The schema.pbtxt of a Schema artifact."""
  return io_utils.SchemaReader().read(io_utils.get_only_uri_in_dir(schema_uri))
