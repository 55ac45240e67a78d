"""TFX's Evaluator (same spec, parameters, outputs and id), run with batches of at most
executor.BATCH_SIZE rows (see executor.py)."""
from tfx.components.evaluator import component as tfx_evaluator
from tfx.dsl.components.base import executor_spec

from components.small_batches import executor


class Evaluator(tfx_evaluator.Evaluator):
  EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.EvaluatorExecutor)
