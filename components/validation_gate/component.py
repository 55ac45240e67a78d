"""DataValidationGate: a pipeline step that fails when ExampleValidator found anomalies, or
when the training data drifted from the data accepted last beyond the schema's thresholds."""
import json
from typing import Dict

from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.components.statistics_gen import stats_artifact_utils
from tfx.types import artifact_utils
from tfx.types.standard_artifacts import ExampleAnomalies, ExampleStatistics, Schema

from components.common.statistics import read_schema
from components.validation_gate import drift, executor


def _split_statistics(statistics: ExampleStatistics) -> Dict[str, object]:
  """Each split's DatasetFeatureStatistics (None for a split with no rows)."""
  found = {}
  for split in artifact_utils.decode_split_names(statistics.split_names):
    datasets = stats_artifact_utils.load_statistics(statistics, split).proto().datasets
    found[split] = datasets[0] if datasets else None
  return found


def _unlabeled_rows(split_statistics, label_key: str) -> Dict[str, int]:
  """Rows per split whose label is absent or empty: a scalar label has one value in each
  labelled row, so the rest are the rows minus the values."""
  unlabeled = {}
  for split, dataset in split_statistics.items():
    for feature in dataset.features if dataset else ():
      kind = feature.WhichOneof('stats')
      if feature.path.step == [label_key] and kind in ('num_stats', 'string_stats'):
        stats = getattr(feature, kind).common_stats
        unlabeled[split] = int(dataset.num_examples - stats.tot_num_values)
  return unlabeled


@component
def DataValidationGate(  # pylint: disable=invalid-name
    anomalies: InputArtifact[ExampleAnomalies],
    statistics: InputArtifact[ExampleStatistics],
    schema: InputArtifact[Schema],
    drift_measurements: OutputArtifact[ExampleAnomalies],
    data_location: Parameter[str],
    code_fingerprint: Parameter[str],
    schema_location: Parameter[str],
    min_split_rows: Parameter[str],
    label_key: Parameter[str],
    eval_fraction: Parameter[float],
    baseline_statistics: InputArtifact[ExampleStatistics] = None,
):
  """Raises DataValidationError, stopping the run, when any split has anomalies, has fewer
  rows than `min_split_rows` (JSON: split name -> rows), has rows without a `label_key`
  value, or drifted. `code_fingerprint` (common/fingerprint.py) keys the cache by this
  component's source.
  `drift_measurements` holds every compared feature's distance and threshold (empty on a
  pipeline's first run, or when the schema sets no drift comparator)."""
  del code_fingerprint  # only a cache key
  # First: an empty split also makes every column look missing to ExampleValidator.
  split_statistics = _split_statistics(statistics)
  executor.check_split_sizes(
      {split: dataset.num_examples if dataset else 0
       for split, dataset in split_statistics.items()},
      json.loads(min_split_rows), data_location, eval_fraction)
  executor.check_labels(_unlabeled_rows(split_statistics, label_key), label_key,
                        data_location)
  executor.check(anomalies.uri, artifact_utils.decode_split_names(anomalies.split_names),
                 data_location, schema_location)
  schema_proto = read_schema(schema.uri)
  if baseline_statistics is None or not drift.has_comparators(schema_proto):
    drift.write(anomalies_pb2.Anomalies(), drift_measurements)
    return
  measured = drift.measure(statistics, baseline_statistics, schema_proto)
  drift.write(measured, drift_measurements)
  executor.check_drift(drift.drifted_features(measured), data_location, schema_location,
                       baseline_statistics.uri)
