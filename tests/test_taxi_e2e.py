"""TFX's reference workload through our pipeline; TFX's own example reaches 0.798 accuracy."""
import pytest

from pipeline.summary import read_latest_run
from tests.conftest import forge_run, write_config



@pytest.fixture(scope='module')
def taxi_run(tmp_path_factory):
  work = tmp_path_factory.mktemp('taxi')
  config = write_config(work / 'taxi.yaml', 'taxi', pipeline={'root': str(work / 'root')},
                        outputs={'serving_dir': str(work / 'serving')})
  return forge_run(config)


def test_taxi_is_blessed_and_pushed(taxi_run):
  assert taxi_run.returncode == 0, taxi_run.output
  assert list((taxi_run.config.outputs.serving_dir / 'taxi').glob('*/saved_model.pb'))


def test_taxi_reaches_the_reference_accuracy(taxi_run):
  metrics = read_latest_run(taxi_run.config.metadata_path).metrics
  assert metrics['binary_accuracy'] >= 0.79
  assert metrics['auc'] >= 0.80
