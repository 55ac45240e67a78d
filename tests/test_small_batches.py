"""The Evaluator runs the model on batches of at most BATCH_SIZE rows (its memory grows with
the batch; see components/small_batches/executor.py). This guards the
tfx_bsl setting the cap relies on: if an upgrade renames it, the cap must not silently stop
applying."""
from pipeline import env  # noqa: F401  (before TensorFlow)

from tfx_bsl.coders import batch_util

from components.small_batches import executor


def test_batches_are_capped_only_while_the_executor_runs():
  uncapped = batch_util.GetBatchElementsKwargs(None)['max_batch_size']
  assert uncapped > executor.BATCH_SIZE
  with executor._adaptive_batches_capped(executor.BATCH_SIZE):  # pylint: disable=protected-access
    assert batch_util.GetBatchElementsKwargs(None)['max_batch_size'] == executor.BATCH_SIZE
  assert batch_util.GetBatchElementsKwargs(None)['max_batch_size'] == uncapped
