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

from components.validation_gate import drift, executor


def _rows_per_split(statistics: ExampleStatistics) -> Dict[str, int]:
  rows = {}
  for split in artifact_utils.decode_split_names(statistics.split_names):
    datasets = stats_artifact_utils.load_statistics(statistics, split).proto().datasets
    rows[split] = datasets[0].num_examples if datasets else 0
  return rows


@component
def DataValidationGate(  # pylint: disable=invalid-name
    anomalies: InputArtifact[ExampleAnomalies],
    statistics: InputArtifact[ExampleStatistics],
    schema: InputArtifact[Schema],
    drift_measurements: OutputArtifact[ExampleAnomalies],
    data_location: Parameter[str],
    schema_location: Parameter[str],
    min_split_rows: Parameter[str],
    eval_fraction: Parameter[float],
    baseline_statistics: InputArtifact[ExampleStatistics] = None,
):
  """Raises DataValidationError, stopping the run, when any split has anomalies, has fewer
  rows than `min_split_rows` (JSON: split name -> rows) or drifted.
  `drift_measurements` holds every compared feature's distance and threshold (empty on a
  pipeline's first run, or when the schema sets no drift comparator)."""
  # First: an empty split also makes every column look missing to ExampleValidator.
  executor.check_split_sizes(_rows_per_split(statistics), json.loads(min_split_rows),
                             data_location, eval_fraction)
  executor.check(anomalies.uri, artifact_utils.decode_split_names(anomalies.split_names),
                 data_location, schema_location)
  schema_proto = drift.read_schema(schema.uri)
  if baseline_statistics is None or not drift.has_comparators(schema_proto):
    drift.write(anomalies_pb2.Anomalies(), drift_measurements)
    return
  measured = drift.measure(statistics, baseline_statistics, schema_proto)
  drift.write(measured, drift_measurements)
  executor.check_drift(drift.drifted_features(measured), data_location, schema_location,
                       baseline_statistics.uri)
