"""The Evaluator runs the model on batches of at most BATCH_SIZE rows (its memory grows with
the batch; see components/small_batches/executor.py). This guards the
tfx_bsl setting the cap relies on: if an upgrade renames it, the cap must not silently stop
applying."""
from base import env  # noqa: F401  (before TensorFlow)

from tfx_bsl.coders import batch_util

from components.small_batches import executor


def test_batches_are_capped_only_while_the_executor_runs():
  uncapped = batch_util.GetBatchElementsKwargs(None)['max_batch_size']
  assert uncapped > executor.BATCH_SIZE
  with executor._adaptive_batches_capped(executor.BATCH_SIZE):  # pylint: disable=protected-access
    assert batch_util.GetBatchElementsKwargs(None)['max_batch_size'] == executor.BATCH_SIZE
  assert batch_util.GetBatchElementsKwargs(None)['max_batch_size'] == uncapped


def test_the_pipelines_evaluator_runs_tfmas_evaluation_under_the_cap(monkeypatch, tmp_path):
  from tfx.components.evaluator import executor as tfx_evaluator_executor

  from pipeline.config import load_config
  from pipeline.pipeline import create_pipeline
  from tests.conftest import write_config

  config = load_config(write_config(tmp_path / 'taxi.yaml', 'taxi',
                                    pipeline={'root': str(tmp_path / 'root')}))
  evaluator = [c for c in create_pipeline(config).components if c.id == 'Evaluator'][0]
  seen = []
  monkeypatch.setattr(tfx_evaluator_executor.Executor, 'Do', lambda *_: seen.append(
      batch_util.GetBatchElementsKwargs(None)['max_batch_size']))
  evaluator.executor_spec.executor_class().Do({}, {}, {})
  assert seen == [executor.BATCH_SIZE]
