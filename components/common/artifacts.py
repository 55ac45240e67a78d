"""The artifact types and component-spec pieces more than one component uses: the
ModelOptimizer writes TFLiteModels and an OptimizationReport that the MobilePusher reads,
the ModelCard reads what both pushers wrote, and the Distiller trains further from the
Trainer's model as the ModelOptimizer does."""
from tfx import types
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter


class TFLiteModels(types.Artifact):
  """A folder of `<variant>.tflite` files."""
  TYPE_NAME = 'forge.TFLiteModels'  # KFP v2 wants <namespace>.<Name>


class OptimizationReport(types.Artifact):
  """`report.json`: one row of measurements per TFLite variant, and the one chosen."""
  TYPE_NAME = 'forge.OptimizationReport'


OPTIMIZATION_REPORT_FILE = 'report.json'


class PushedMobileModel(types.Artifact):
  """Where the .tflite went (custom properties pushed, pushed_destination, variant)."""
  TYPE_NAME = 'forge.PushedMobileModel'


class ModelCard(types.Artifact):
  """`model_card.json` (validated against components/model_card/model_card.schema.json)
  and `model_card.html` of a pushed version."""
  TYPE_NAME = 'forge.ModelCard'

# What a component that trains further from the Trainer's model takes.
FINE_TUNING_PARAMETERS = {
    'family': ExecutionParameter(type=str),
    'settings': ExecutionParameter(type=str),  # JSON of the component's config section
    'batch_size': ExecutionParameter(type=int),
    # The executor's source: an edited executor re-runs (see common/fingerprint.py).
    'executor_fingerprint': ExecutionParameter(type=str),
}
FINE_TUNING_INPUTS = {
    'model': ChannelParameter(type=standard_artifacts.Model),
    'transform_graph': ChannelParameter(type=standard_artifacts.TransformGraph),
    'transformed_examples': ChannelParameter(type=standard_artifacts.Examples),
}
