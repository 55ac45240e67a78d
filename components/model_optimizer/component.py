"""ModelOptimizer: the Trainer's model in; a pruned model, a quantization-aware-trained model,
TFLite variants and their measurements out, all as ML Metadata artifacts."""
from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from components.common.fingerprint import code_fingerprint
from components.model_optimizer import executor


class TFLiteModels(types.Artifact):
  """A folder of `<variant>.tflite` files."""
  TYPE_NAME = 'forge.TFLiteModels'  # KFP v2 wants <namespace>.<Name>


class OptimizationReport(types.Artifact):
  """`report.json`: one row of measurements per TFLite variant, and the one chosen."""
  TYPE_NAME = 'forge.OptimizationReport'


# What a component that trains further from the Trainer's model takes (the Distiller too).
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


class ModelOptimizerSpec(ComponentSpec):
  PARAMETERS = FINE_TUNING_PARAMETERS
  INPUTS = {
      **FINE_TUNING_INPUTS,
      'examples': ChannelParameter(type=standard_artifacts.Examples),
  }
  OUTPUTS = {
      'pruned_model': ChannelParameter(type=standard_artifacts.Model),
      'qat_model': ChannelParameter(type=standard_artifacts.Model),
      'tflite_models': ChannelParameter(type=TFLiteModels),
      'report': ChannelParameter(type=OptimizationReport),
  }


class ModelOptimizer(base_component.BaseComponent):
  SPEC_CLASS = ModelOptimizerSpec
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

  def __init__(self, model, transform_graph, transformed_examples, examples, family: str,
               settings: str, batch_size: int):
    super().__init__(spec=ModelOptimizerSpec(
        model=model, transform_graph=transform_graph,
        transformed_examples=transformed_examples, examples=examples, family=family,
        settings=settings, batch_size=batch_size,
        executor_fingerprint=code_fingerprint(executor.__name__),
        pruned_model=types.Channel(type=standard_artifacts.Model),
        qat_model=types.Channel(type=standard_artifacts.Model),
        tflite_models=types.Channel(type=TFLiteModels),
        report=types.Channel(type=OptimizationReport)))
