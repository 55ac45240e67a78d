"""MobilePusher: pushes the ModelOptimizer's selected TFLite variant of a blessed model to
<mobile_dir>/<model name>/<version>/ with its labels and metadata."""
from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from components.common.artifacts import OptimizationReport, PushedMobileModel, TFLiteModels
from components.common.fingerprint import code_fingerprint
from components.mobile_pusher import executor


class MobilePusherSpec(ComponentSpec):
  PARAMETERS = {
      'mobile_dir': ExecutionParameter(type=str),
      'model_name': ExecutionParameter(type=str),
      'executor_fingerprint': ExecutionParameter(type=str),
  }
  INPUTS = {
      'tflite_models': ChannelParameter(type=TFLiteModels),
      'report': ChannelParameter(type=OptimizationReport),
      'model_blessing': ChannelParameter(type=standard_artifacts.ModelBlessing),
  }
  OUTPUTS = {'pushed_mobile_model': ChannelParameter(type=PushedMobileModel)}


class MobilePusher(base_component.BaseComponent):
  SPEC_CLASS = MobilePusherSpec
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

  def __init__(self, tflite_models, report, model_blessing, mobile_dir: str, model_name: str):
    super().__init__(spec=MobilePusherSpec(
        tflite_models=tflite_models, report=report, model_blessing=model_blessing,
        mobile_dir=mobile_dir, model_name=model_name,
        executor_fingerprint=code_fingerprint(executor.__name__),
        pushed_mobile_model=types.Channel(type=PushedMobileModel)))
