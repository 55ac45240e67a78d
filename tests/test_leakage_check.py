"""Train/eval leakage: eval rows that repeat training rows beyond what a random split of the
same data gives stop the run before training (copies, data given split that shares
records, a group in both splits); the repetition of discrete tables does not. A label the
model cannot learn stops it too."""
from base import env  # noqa: F401  (before TensorFlow)

import csv
import random

import pytest
import tensorflow as tf

from components.common.errors import DataValidationError
from components.common.examples import examples_artifact
from components.leakage_check import executor
from pipeline import datasets
from tests.conftest import forge_run, write_config


def _feature(value):
  if isinstance(value, str):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode()]))
  if isinstance(value, int):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))
  return tf.train.Feature(float_list=tf.train.FloatList(value=[value]))


def _example(features):
  return tf.train.Example(features=tf.train.Features(feature={
      name: _feature(value) for name, value in features.items()})).SerializeToString()


def _splits(root, train, evaluation):
  for split, rows in (('train', train), ('eval', evaluation)):
    (root / f'Split-{split}').mkdir(parents=True)
    with tf.io.TFRecordWriter(str(root / f'Split-{split}' / 'data.gz'), 'GZIP') as writer:
      for row in rows:
        writer.write(_example(row))
  return examples_artifact(str(root))


def _check(tmp_path, train, evaluation, label='y', max_fraction=0.01, **kwargs):
  examples = _splits(tmp_path / 'examples', train, evaluation)
  (tmp_path / 'report').mkdir(exist_ok=True)
  return executor.check(examples, label, max_fraction, 'data/rows.csv',
                        str(tmp_path / 'report'), **kwargs)


def _passengers(rows, seed=0):
  """Three discrete columns (12 combinations) and a label that depends on them loosely."""
  rng = random.Random(seed)
  table = []
  for _ in range(rows):
    row = {'klass': rng.choice([1, 2, 3]), 'age': rng.choice(['adult', 'child']),
           'sex': rng.choice(['m', 'f'])}
    rate = {1: 0.6, 2: 0.4, 3: 0.2}[row['klass']] + 0.3 * (row['sex'] == 'f')
    table.append({**row, 'y': 'yes' if rng.random() < rate else 'no'})
  return table


def _random_split(rows, seed=0):
  rng = random.Random(seed)
  evaluation = set(rng.sample(range(len(rows)), len(rows) // 3))
  return ([row for i, row in enumerate(rows) if i not in evaluation],
          [row for i, row in enumerate(rows) if i in evaluation])


def test_a_table_of_discrete_rows_is_not_leakage_and_its_noise_floor_is_reported(tmp_path):
  """12 feature combinations in 1,300 rows: nearly every eval row's features occur in
  training, as in any random split; the old check stopped such tables at 99%."""
  train, evaluation = _random_split(_passengers(1_300))
  overlap = _check(tmp_path, train, evaluation, classes=['no', 'yes'])
  assert overlap.fraction > 0.95  # the repetition is there...
  assert abs(overlap.excess) < 0.01  # ...and a random split explains it
  assert overlap.distinct_rows == 12 and overlap.repeated_rows == 1_300
  assert overlap.conflicting_rows == 1_300  # every combination carries both labels
  assert 0.6 < overlap.best_accuracy < 0.8
  assert executor.SplitOverlap.read(str(tmp_path / 'report')) == overlap


def test_rows_copied_with_a_fresh_id_are_leakage(tmp_path):
  """Measurements copied under a new ID: the model's features (not the ID) repeat exactly,
  which no random split of distinct records gives."""
  rng = random.Random(0)
  records = [{'id': f'r{i}', 'width': round(rng.uniform(1, 30), 2),
              'mass': round(rng.uniform(500, 6000), 1), 'y': rng.choice(['a', 'b'])}
             for i in range(300)]
  copies = [{**row, 'id': f'copy{i}'} for i, row in enumerate(records[:60])]
  train, evaluation = _random_split(records + copies)
  with pytest.raises(executor.LeakageError) as stopped:
    _check(tmp_path, train, evaluation, feature_keys=['width', 'mass'], classes=['a', 'b'])
  message = str(stopped.value)
  assert 'data/rows.csv' in message and 'copied records' in message
  assert 'where a random split of this data gives 0' in message
  assert 'data.max_leakage = 1.00%' in message


def test_data_given_split_whose_eval_rows_copy_training_rows_is_leakage(tmp_path):
  """Discrete columns (2,880 combinations, 400 rows): an eval file copied from the training
  file overlaps far beyond what a random split of the same rows gives."""
  rng = random.Random(0)
  train = [{'a': rng.randrange(20), 'b': rng.choice('pqrstu'), 'c': rng.randrange(24),
            'y': rng.choice(['n', 'p'])} for _ in range(400)]
  evaluation = [dict(row) for row in rng.sample(train, 120)]
  with pytest.raises(executor.LeakageError) as stopped:
    _check(tmp_path, train, evaluation)
  assert '120 of 120 eval rows' in str(stopped.value)


def test_a_group_in_both_splits_is_leakage(tmp_path):
  train = [{'patient': f'p{i % 10}', 'x': float(i), 'y': 'a'} for i in range(50)]
  evaluation = [{'patient': 'p3', 'x': 100.0, 'y': 'a'}, {'patient': 'p11', 'x': 7.5, 'y': 'b'}]
  with pytest.raises(executor.LeakageError, match="1 value\\(s\\) of the data.split_by column 'patient'"):
    _check(tmp_path, train, evaluation, group_key='patient')
  (tmp_path / 'apart').mkdir()
  _check(tmp_path / 'apart', train, evaluation[1:], group_key='patient')


@pytest.mark.parametrize('train_labels,missing', [
    (['Adelie'], "holds 1 class(es) of the label 'species' ('Adelie': 60) and lacks the "
                 "class(es) 'Chinstrap', 'Gentoo'"),
    (['Adelie', 'Gentoo'], "lacks the class(es) 'Chinstrap'")])
def test_a_label_the_model_cannot_learn_stops_the_run(tmp_path, train_labels, missing):
  train = [{'x': float(i), 'species': train_labels[i % len(train_labels)]} for i in range(60)]
  evaluation = [{'x': float(i) + 0.5, 'species': 'Adelie'} for i in range(20)]
  with pytest.raises(DataValidationError) as stopped:
    _check(tmp_path, train, evaluation, label='species',
           classes=['Adelie', 'Chinstrap', 'Gentoo'])
  message = str(stopped.value)
  assert missing in message and "'Adelie': " in message and 'data/rows.csv' in message
  assert 'the served model stays' in message


def test_labels_that_index_named_classes_are_read_as_those_classes(tmp_path):
  """The text family's 0/1 labels stand for negative/positive; one of them alone stops."""
  both = [{'x': float(i), 'label': i % 2} for i in range(40)]
  evaluation = [{'x': i + 0.5, 'label': i % 2} for i in range(6)]
  _check(tmp_path, both, evaluation, label='label', classes=['negative', 'positive'])
  (tmp_path / 'one').mkdir()
  with pytest.raises(DataValidationError, match="lacks the class\\(es\\) 'positive'"):
    _check(tmp_path / 'one', [{**row, 'label': 0} for row in both], evaluation, label='label',
           classes=['negative', 'positive'])


def test_a_huge_label_value_is_cut_in_the_message(tmp_path):
  huge = 'x' * 2_000_000
  train = [{'x': float(i), 'y': huge} for i in range(30)]
  with pytest.raises(DataValidationError) as stopped:
    _check(tmp_path, train, train[:5], classes=['a', huge])
  assert len(str(stopped.value)) < 2_000 and '(2,000,000 characters)' in str(stopped.value)


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
