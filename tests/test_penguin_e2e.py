"""The default pipeline end to end, as `make run` runs it."""
import csv
import json
import re

import numpy as np
import pytest
import tensorflow as tf

from models.penguin.features import FAMILY
from pipeline import datasets
from pipeline.summary import read_latest_run
from tests.conftest import across_classes


@pytest.fixture(scope='module')
def first_run(penguin_runs):
  return penguin_runs[0]


@pytest.fixture(scope='module')
def pushed_dir(first_run):
  """The version the runs pushed (test_pushes_once_to_a_numeric_version_dir: only one)."""
  return max(_version_dirs(first_run), default=None)


def _version_dirs(run):
  model_dir = run.config.outputs.serving_dir / 'penguin'
  return sorted(p for p in model_dir.iterdir() if p.is_dir()) if model_dir.is_dir() else []


def _penguin_examples(tmp_path, per_class=20):
  """Serialized examples of `per_class` penguins of each species (the CSV is sorted by
  species: its first 60 rows are all Adelie), and their species."""
  source = datasets.resolve('penguins', None, 'csv', tmp_path)
  rows = across_classes(csv.DictReader(open(source.input_base / source.pattern)),
                        lambda row: row[FAMILY.label_key], per_class)
  examples = []
  for row in rows:
    features = {}
    for key, value in row.items():
      if value == '' or key == FAMILY.label_key:
        continue
      if key in ('island', 'sex'):
        features[key] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode()]))
      elif key in ('bill_length_mm', 'bill_depth_mm'):
        features[key] = tf.train.Feature(float_list=tf.train.FloatList(value=[float(value)]))
      else:
        features[key] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))
    examples.append(tf.train.Example(features=tf.train.Features(feature=features))
                    .SerializeToString())
  return examples, [row[FAMILY.label_key] for row in rows]


def test_pushes_once_to_a_numeric_version_dir(first_run, pushed_dir):
  assert _version_dirs(first_run) == [pushed_dir]
  assert re.fullmatch(r'\d+', pushed_dir.name)
  assert (pushed_dir / 'saved_model.pb').is_file()


def test_serving_default_answers_serialized_examples(pushed_dir, tmp_path):
  examples, species = _penguin_examples(tmp_path)
  serve = tf.saved_model.load(str(pushed_dir)).signatures['serving_default']
  outputs = serve(examples=tf.constant(examples))
  probabilities = outputs['probabilities'].numpy()
  assert probabilities.shape == (len(examples), len(FAMILY.class_names))
  np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
  predicted = [name.decode() for name in outputs['predicted_class'].numpy()]
  assert sorted(set(species)) == sorted(FAMILY.class_names)  # a constant answer scores 1/3
  assert np.mean([p == s for p, s in zip(predicted, species)]) >= 0.9


def test_model_is_blessed_with_high_accuracy(first_run):
  assert first_run.returncode == 0, first_run.output
  summary = read_latest_run(first_run.config.metadata_path)
  assert summary.blessed
  assert summary.metrics['sparse_categorical_accuracy'] >= 0.90
  assert 'Blessed. Pushed to' in first_run.output


def test_progress_shows_each_component_and_hides_log_noise(first_run):
  for component in ('CsvExampleGen', 'StatisticsGen', 'ImportSchemaGen', 'ExampleValidator',
                    'Transform', 'Trainer', 'Evaluator', 'Pusher'):
    assert re.search(rf'{component} done in \d+\.\d s', first_run.output), component
  for noise in ('WARNING:tensorflow', 'INFO:absl', 'cuda', 'FutureWarning'):
    assert noise not in first_run.output


def test_unchanged_rerun_executes_nothing(penguin_runs, pushed_dir):
  first, second = penguin_runs
  assert second.returncode == 0, second.output
  summary = read_latest_run(second.config.metadata_path)
  assert summary.executed == []
  assert set(summary.states) >= {'Trainer', 'Evaluator', 'Pusher'}
  assert len(list(pushed_dir.parent.iterdir())) == 1


def test_tuner_hands_its_best_hyperparameters_to_the_trainer(first_run):
  assert re.search(r'Tuner done in', first_run.output)
  assert "Trainer uses the Tuner's best hyperparameters" in first_run.output
  history = json.loads(next(
      (first_run.config.pipeline.root / 'Trainer' / 'model_run').glob('*/history.json'))
      .read_text())
  assert set(history['hparams']) >= {'hidden_units', 'dropout', 'learning_rate'}
  assert history['strategy'] == 'default with 1 replica(s)'


def test_pushed_model_properties_are_written_as_tfx_pusher_writes_them(first_run, pushed_dir):
  """pushed_version and pushed_destination are strings, as TFX's own Pusher records them,
  so TFX tools reading ML Metadata keep working."""
  from pipeline.summary import open_store
  store = open_store(first_run.config.metadata_path)
  (pushed,) = [a for a in store.get_artifacts_by_type('PushedModel')
               if a.custom_properties['pushed'].int_value == 1]
  assert pushed.custom_properties['pushed_version'].string_value == pushed_dir.name
  assert pushed.custom_properties['pushed_destination'].string_value == str(pushed_dir)


def test_the_mobile_file_answers_with_its_own_labels_as_serving_default_does(first_run):
  """A table on a phone: the LiteRT interpreter runs the pushed .tflite on the eval split's
  raw features, and the label file in its TFLite Metadata names the classes; top-1
  agreement with the SavedModel's serving_default >= 99%."""
  from components.common import mobile_inputs, tflite_measure, tflite_metadata
  from tests.tflite_probe import eval_rows, serving_default_classes
  (version,) = (first_run.config.outputs.mobile_path / 'penguin').iterdir()
  model = (version / 'model.tflite').read_bytes()
  read = tflite_metadata.read(model)
  assert read['metadata']['name'] == 'penguin' and read['metadata']['version'] == version.name
  (subgraph,) = read['metadata']['subgraph_metadata']
  assert {t['name'] for t in subgraph['input_tensor_metadata']} == set(
      json.loads((version / 'metadata.json').read_text())['inputs'])
  labels = tflite_metadata.labels(model)
  assert labels == list(FAMILY.class_names)
  rows = eval_rows(first_run.config.pipeline.root)
  report = read_latest_run(first_run.config.metadata_path).optimization
  saved_model = tf.saved_model.load(report['sources']['trained'])
  columns = mobile_inputs.columns(saved_model, rows, FAMILY)
  top1 = tflite_measure.predict(tflite_measure.runner(model, 1), columns).argmax(axis=1)
  expected = serving_default_classes(report['sources']['trained'], rows, FAMILY.label_key)
  assert np.mean(np.array(labels)[top1] == np.array(expected)) >= 0.99
