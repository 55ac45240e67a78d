"""LatestPushedModel: the Evaluator's baseline where no resolver can run (open-source KFP):
the newest version under the serving directory, copied into a Model artifact (executor.py)."""
from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types.standard_artifacts import Model

from components.baseline_resolver import executor


@component
def LatestPushedModel(  # pylint: disable=invalid-name
    model: InputArtifact[Model],
    baseline_model: OutputArtifact[Model],
    serving_dir: Parameter[str],
    model_name: Parameter[str],
):
  """`model` is the candidate: a pushed version it cannot be compared with is left out."""
  executor.find_baseline(model, serving_dir, model_name, baseline_model)
