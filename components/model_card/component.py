"""ModelCard: after the pushes, the model card of the version just pushed, beside it."""
import hashlib

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from components.common.artifacts import ModelCard as ModelCardArtifact
from components.common.artifacts import OptimizationReport, PushedMobileModel
from components.common.fingerprint import code_fingerprint
from components.model_card import executor


class ModelCardSpec(ComponentSpec):
  PARAMETERS = {
      # JSON: the config's model_card section, and beside it the family, task, classes,
      # gates, pipeline and model names the card states.
      'settings': ExecutionParameter(type=str),
      'executor_fingerprint': ExecutionParameter(type=str),
  }
  INPUTS = {
      'pushed_model': ChannelParameter(type=standard_artifacts.PushedModel),
      'model_blessing': ChannelParameter(type=standard_artifacts.ModelBlessing),
      'model_evaluation': ChannelParameter(type=standard_artifacts.ModelEvaluation),
      'model': ChannelParameter(type=standard_artifacts.Model),
      'model_run': ChannelParameter(type=standard_artifacts.ModelRun),
      'statistics': ChannelParameter(type=standard_artifacts.ExampleStatistics),
      'schema': ChannelParameter(type=standard_artifacts.Schema),
      'examples': ChannelParameter(type=standard_artifacts.Examples),
      # Every span the Trainer read (data.window), newest first.
      'training_examples': ChannelParameter(type=standard_artifacts.Examples),
      'pushed_mobile_model': ChannelParameter(type=PushedMobileModel, optional=True),
      'optimization_report': ChannelParameter(type=OptimizationReport, optional=True),
  }
  OUTPUTS = {'model_card': ChannelParameter(type=ModelCardArtifact)}


class ModelCard(base_component.BaseComponent):
  SPEC_CLASS = ModelCardSpec
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

  def __init__(self, pushed_model, model_blessing, model_evaluation, model, model_run,
               statistics, schema, examples, training_examples, settings: str,
               pushed_mobile_model=None, optimization_report=None):
    super().__init__(spec=ModelCardSpec(
        pushed_model=pushed_model, model_blessing=model_blessing,
        model_evaluation=model_evaluation, model=model, model_run=model_run,
        statistics=statistics, schema=schema, examples=examples,
        training_examples=training_examples, pushed_mobile_model=pushed_mobile_model,
        optimization_report=optimization_report, settings=settings,
        # The template and the JSON Schema shape the card too: an edit to them re-runs it.
        executor_fingerprint=code_fingerprint('components.model_card.executor') + ':'
        + hashlib.sha256((executor.HERE / 'model_card.html.j2').read_bytes()
                         + (executor.HERE / 'model_card.schema.json').read_bytes()
                         ).hexdigest()[:16],
        model_card=types.Channel(type=ModelCardArtifact)))
