"""Distiller: the Trainer's model (teacher) in; a smaller student model of the same family and
a report comparing them out. No TFX component distils; this one is written here."""
from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec

from components.common.fingerprint import code_fingerprint
from components.distiller import executor
from components.common.artifacts import FINE_TUNING_INPUTS, FINE_TUNING_PARAMETERS


class DistillationReport(types.Artifact):
  """`distillation.json`: teacher and student parameters, SavedModel size, eval accuracy."""
  TYPE_NAME = 'forge.DistillationReport'  # KFP v2 wants <namespace>.<Name>


class DistillerSpec(ComponentSpec):
  PARAMETERS = FINE_TUNING_PARAMETERS
  INPUTS = FINE_TUNING_INPUTS
  OUTPUTS = {
      'student_model': ChannelParameter(type=standard_artifacts.Model),
      'distillation': ChannelParameter(type=DistillationReport),
  }


class Distiller(base_component.BaseComponent):
  SPEC_CLASS = DistillerSpec
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

  def __init__(self, model, transform_graph, transformed_examples, family: str, settings: str,
               batch_size: int):
    super().__init__(spec=DistillerSpec(
        model=model, transform_graph=transform_graph,
        transformed_examples=transformed_examples, family=family, settings=settings,
        batch_size=batch_size, executor_fingerprint=code_fingerprint(executor.__name__),
        student_model=types.Channel(type=standard_artifacts.Model),
        distillation=types.Channel(type=DistillationReport)))
