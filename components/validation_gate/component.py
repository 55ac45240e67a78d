"""DataValidationGate: a pipeline step that fails when ExampleValidator found anomalies."""
from tfx.dsl.component.experimental.annotations import InputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types import artifact_utils
from tfx.types.standard_artifacts import ExampleAnomalies

from components.validation_gate import executor


@component
def DataValidationGate(  # pylint: disable=invalid-name
    anomalies: InputArtifact[ExampleAnomalies],
    data_location: Parameter[str],
    schema_location: Parameter[str],
):
  """Raises DataValidationError, stopping the run, when any split has anomalies."""
  executor.check(anomalies.uri, artifact_utils.decode_split_names(anomalies.split_names),
                 data_location, schema_location)
