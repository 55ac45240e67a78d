"""The Evaluator's executor with TensorFlow batches of at most BATCH_SIZE rows.

TFMA feeds the model batches that Beam's BatchElements grows to 1,000 rows on large data,
and the memory it holds grows with the batch: the taxi Evaluator alone on a 375k-row eval
split peaked at 1,189 MB with those batches, 1,407 MB with 1,000 rows always and 970 MB
with 100 (measured; the growth is native memory, not Python objects or Beam buffers). On
small data the batches never grow, which is why the Evaluator's peak rose from 1x to 100x
taxi. (Transform's peak did not move with its batch size: 1,146 MB at 100 rows against
1,153 MB adaptive, so Transform keeps TFX's batching.)

TFMA has no batch-size setting for this path (it reads through TFXIO, which batches
adaptively up to tfx_bsl's cap), so the executor lowers that cap while it runs.
Hand-written: no public switch exists.
"""
from __future__ import annotations

import contextlib

import posixpath

import tensorflow as tf
from tfx.components.evaluator import executor as evaluator_executor
from tfx.types import standard_component_specs
from tfx.utils import path_utils
from tfx_bsl.coders import batch_util

BATCH_SIZE = 100


@contextlib.contextmanager
def _adaptive_batches_capped(rows: int):
  cap = batch_util._BATCH_SIZE_CAP  # pylint: disable=protected-access
  batch_util._BATCH_SIZE_CAP = rows  # pylint: disable=protected-access
  try:
    yield
  finally:
    batch_util._BATCH_SIZE_CAP = cap  # pylint: disable=protected-access


def without_empty_baseline(input_dict):
  """Leaves out a baseline Model artifact that holds no SavedModel: on open-source KFP the
  baseline step always outputs one, empty on a pipeline's first run
  (components/baseline_resolver/executor.py)."""
  key = standard_component_specs.BASELINE_MODEL_KEY
  baselines = input_dict.get(key) or []
  if all(tf.io.gfile.exists(posixpath.join(path_utils.serving_model_path(model.uri),
                                           'saved_model.pb')) for model in baselines):
    return input_dict
  return {**input_dict, key: []}


class EvaluatorExecutor(evaluator_executor.Executor):

  def Do(self, input_dict, output_dict, exec_properties):
    input_dict = without_empty_baseline(input_dict)
    with _adaptive_batches_capped(BATCH_SIZE):
      super().Do(input_dict, output_dict, exec_properties)
