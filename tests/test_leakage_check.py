"""Train/eval leakage: eval rows that repeat training rows (same features) are counted, and
above data.max_leakage the run stops before training."""
from base import env  # noqa: F401  (before TensorFlow)

import csv
import json

import pytest
import tensorflow as tf

from components.common.examples import examples_artifact
from components.leakage_check import executor
from pipeline import datasets
from tests.conftest import forge_run, write_config


def _example(features):
  return tf.train.Example(features=tf.train.Features(feature={
      name: tf.train.Feature(float_list=tf.train.FloatList(value=[value]))
      for name, value in features.items()})).SerializeToString()


def _splits(root, train, evaluation):
  for split, rows in (('train', train), ('eval', evaluation)):
    (root / f'Split-{split}').mkdir(parents=True)
    with tf.io.TFRecordWriter(str(root / f'Split-{split}' / 'data.gz'), 'GZIP') as writer:
      for row in rows:
        writer.write(_example(row))


def test_eval_rows_repeating_training_features_are_counted_and_stop_the_run(tmp_path):
  train = [{'x': 1.0, 'y': 0.0}, {'x': 2.0, 'y': 1.0}, {'x': 3.0, 'y': 0.0}]
  # The first two repeat training rows' features, one of them with another label.
  evaluation = [{'x': 1.0, 'y': 1.0}, {'x': 2.0, 'y': 1.0}, {'x': 4.0, 'y': 0.0},
                {'x': 5.0, 'y': 1.0}]
  _splits(tmp_path / 'examples', train, evaluation)
  (tmp_path / 'report').mkdir()
  with pytest.raises(executor.LeakageError) as stopped:
    executor.check(examples_artifact(str(tmp_path / 'examples')), 'y', 0.25, 'data/rows.csv',
                   str(tmp_path / 'report'))
  message = str(stopped.value)
  assert 'data/rows.csv' in message and '2 of 4 eval rows (50.00%)' in message
  assert 'data.max_leakage = 25.00%' in message
  report = json.loads((tmp_path / 'report' / executor.REPORT_FILE).read_text())
  assert report == {'train_rows': 3, 'eval_rows': 4, 'eval_rows_in_train': 2, 'fraction': 0.5}
  assert executor.check(examples_artifact(str(tmp_path / 'examples')), 'y', 0.5, 'data/rows.csv',
                        str(tmp_path / 'report'))['fraction'] == 0.5


def test_leaking_csv_stops_forge_run_before_training(tmp_path):
  """Every penguin twice, the copy with another species: TFX's hash split puts many pairs
  in different splits."""
  source = datasets.resolve('penguins', None, 'csv', tmp_path / 'data')
  with open(source.input_base / source.pattern, newline='') as f:
    rows = list(csv.DictReader(f))
  species = ('Adelie', 'Chinstrap', 'Gentoo')
  twins = [{**row, 'species': species[(species.index(row['species']) + 1) % 3]} for row in rows]
  leaking = tmp_path / 'leaking.csv'
  with open(leaking, 'w', newline='') as f:
    writer = csv.DictWriter(f, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows + twins)
  config = write_config(tmp_path / 'penguin.yaml', 'penguin',
                        pipeline={'root': str(tmp_path / 'root')},
                        outputs={'serving_dir': str(tmp_path / 'serving')})
  run = forge_run(config, '--data-path', str(leaking))
  assert run.returncode == 3, run.output
  assert 'Train/eval leakage in' in run.output and str(leaking) in run.output
  assert 'eval rows' in run.output and 'data.max_leakage' in run.output
  assert not (tmp_path / 'serving').exists() or not any((tmp_path / 'serving').rglob('*.pb'))
