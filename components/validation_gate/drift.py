"""Drift of this run's training data against the data accepted last, measured by TFDV's
drift comparators. The thresholds live in the schema, per feature
(`drift_comparator { jensen_shannon_divergence { threshold: 0.25 } }` for numbers,
`infinity_norm` for categories); a feature without one is not compared.
"""
import os

import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2
from tfx.components.statistics_gen import stats_artifact_utils
from tfx.types import artifact_utils
from tfx.utils import io_utils

DRIFT_REASONS = frozenset({
    anomalies_pb2.AnomalyInfo.COMPARATOR_L_INFTY_HIGH,
    anomalies_pb2.AnomalyInfo.COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH,
    anomalies_pb2.AnomalyInfo.COMPARATOR_NORMALIZED_ABSOLUTE_DIFFERENCE_HIGH,
})
SPLIT = 'train'  # the data the model learns from


def has_comparators(schema: schema_pb2.Schema) -> bool:
  return any(feature.HasField('drift_comparator') for feature in schema.feature)


def measure(statistics, baseline_statistics, schema: schema_pb2.Schema
            ) -> anomalies_pb2.Anomalies:
  """TFDV's validation of this run's statistics with the baseline as `previous`: the
  result's drift_skew_info holds every measured distance, anomaly_info the ones too high."""
  current, previous = (stats_artifact_utils.load_statistics(artifact, SPLIT).proto()
                       for artifact in (statistics, baseline_statistics))
  return tfdv.validate_statistics(current, schema, previous_statistics=previous)


def drifted_features(anomalies: anomalies_pb2.Anomalies) -> list:
  """One line per feature whose distance is above its threshold."""
  return [f'column {feature!r}: {reason.description}'
          for feature, info in sorted(anomalies.anomaly_info.items())
          for reason in info.reason if reason.type in DRIFT_REASONS]


def _measurements_path(uri: str) -> str:
  return os.path.join(uri, f'Split-{SPLIT}', 'SchemaDiff.pb')


def read_measurements(uri: str) -> anomalies_pb2.Anomalies:
  return anomalies_pb2.Anomalies.FromString(io_utils.read_bytes_file(_measurements_path(uri)))


def write(anomalies: anomalies_pb2.Anomalies, output) -> None:
  """Stores the measurements as an ExampleAnomalies artifact (Split-train/SchemaDiff.pb)."""
  output.split_names = artifact_utils.encode_split_names([SPLIT])
  io_utils.write_bytes_file(_measurements_path(output.uri), anomalies.SerializeToString())
