"""TFX's Transform and Evaluator (same spec, parameters, outputs and id), run with batches
of at most executor.BATCH_SIZE rows (see executor.py)."""
from tfx.components.evaluator import component as tfx_evaluator
from tfx.components.transform import component as tfx_transform
from tfx.dsl.components.base import executor_spec

from components.small_batches import executor


class Transform(tfx_transform.Transform):
  EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.TransformExecutor)


class Evaluator(tfx_evaluator.Evaluator):
  EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.EvaluatorExecutor)
