"""ServingPusher: TFX's Pusher contract (model + blessing in, PushedModel out) with
warm-up requests, a pre-push serving check, atomic versions and models.config."""
from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from components.common.fingerprint import code_fingerprint
from components.serving_pusher import executor, model_config


class ServingPusherSpec(ComponentSpec):
  PARAMETERS = {
      'serving_dir': ExecutionParameter(type=str),
      'model_name': ExecutionParameter(type=str),
      'label_key': ExecutionParameter(type=str),
      'warmup_rows': ExecutionParameter(type=int),
      'keep_versions': ExecutionParameter(type=int),
      # The executor's source: an edited executor re-runs (see common/fingerprint.py).
      'executor_fingerprint': ExecutionParameter(type=str),
  }
  INPUTS = {
      'model': ChannelParameter(type=standard_artifacts.Model),
      'model_blessing': ChannelParameter(type=standard_artifacts.ModelBlessing),
      'examples': ChannelParameter(type=standard_artifacts.Examples),
  }
  OUTPUTS = {'pushed_model': ChannelParameter(type=standard_artifacts.PushedModel)}


class ServingPusher(base_component.BaseComponent):
  SPEC_CLASS = ServingPusherSpec
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

  def __init__(self, model, model_blessing, examples, serving_dir: str, model_name: str,
               label_key: str, warmup_rows: int = 16,
               keep_versions: int = model_config.KEEP_VERSIONS):
    super().__init__(spec=ServingPusherSpec(
        model=model, model_blessing=model_blessing, examples=examples,
        serving_dir=serving_dir, model_name=model_name, label_key=label_key,
        warmup_rows=warmup_rows, keep_versions=keep_versions,
        executor_fingerprint=code_fingerprint(executor.__name__),
        pushed_model=types.Channel(type=standard_artifacts.PushedModel)))
