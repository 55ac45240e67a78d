"""TFX's reference workload through our pipeline; TFX's own example reaches 0.798 accuracy."""
from base.settings import TFLITE_VARIANTS
from pipeline.summary import read_latest_run


def test_taxi_is_blessed_and_pushed(taxi_run):
  assert taxi_run.returncode == 0, taxi_run.output
  assert list((taxi_run.config.outputs.serving_dir / 'taxi').glob('*/saved_model.pb'))


def test_taxi_reaches_the_reference_accuracy(taxi_run):
  metrics = read_latest_run(taxi_run.config.metadata_path).metrics
  assert metrics['binary_accuracy'] >= 0.79
  assert metrics['auc'] >= 0.80
  assert 0 < metrics['binary_crossentropy'] < 0.5  # the eval loss, computed by TFMA


def test_taxi_mobile_model_takes_raw_features_with_builtin_ops_only(taxi_run):
  """Vocabularies, hashed codes, quantile buckets and missing values all run inside the
  .tflite: every variant converts without TensorFlow ops and is measured."""
  report = read_latest_run(taxi_run.config.metadata_path).optimization
  assert report['not_built'] == {}
  assert set(report['variants']) == set(TFLITE_VARIANTS)
  assert 'payment_type' in report['inputs'] and 'trip_start_hour' in report['inputs']
  for variant in ('float32', 'dynamic_range', 'float16'):
    assert report['variants'][variant]['accuracy_drop_points'] <= 1.0, variant
  assert report['variants']['float32']['max_abs_diff_vs_source'] < 1e-4
  (version,) = (taxi_run.config.outputs.mobile_path / 'taxi').iterdir()
  assert (version / 'model.tflite').is_file()
