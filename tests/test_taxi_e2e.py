"""TFX's reference workload through our pipeline; TFX's own example reaches 0.798 accuracy."""
from pipeline.summary import read_latest_run


def test_taxi_is_blessed_and_pushed(taxi_run):
  assert taxi_run.returncode == 0, taxi_run.output
  assert list((taxi_run.config.outputs.serving_dir / 'taxi').glob('*/saved_model.pb'))


def test_taxi_reaches_the_reference_accuracy(taxi_run):
  metrics = read_latest_run(taxi_run.config.metadata_path).metrics
  assert metrics['binary_accuracy'] >= 0.79
  assert metrics['auc'] >= 0.80
