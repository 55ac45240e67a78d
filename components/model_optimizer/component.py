"""ModelOptimizer: the Trainer's model in; a pruned model, a quantization-aware-trained model,
TFLite variants and their measurements out, all as ML Metadata artifacts."""
from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec

from components.common.artifacts import (FINE_TUNING_INPUTS, FINE_TUNING_PARAMETERS,
                                         OptimizationReport, TFLiteModels)
from components.common.fingerprint import code_fingerprint
from components.model_optimizer import executor


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
