"""The bounded-memory ExampleGen executors against TFX's own: CSV files with what CSVs hold
(a column that widens from int to float, empty cells, a quoted field with a comma and a
line break, a long integer read as text), and TFRecord files (one gzipped, one not): the
same examples, of the same types. Then the split by position (not TFX's hash of the
content) on a table whose rows repeat, by group, and of data that arrives split."""
from base import env  # noqa: F401  (before TensorFlow)

import collections
import glob
import os
import random
from pathlib import Path

import numpy as np

import pytest
import tensorflow as tf
from tfx.components.example_gen.csv_example_gen import executor as tfx_csv
from tfx.components.example_gen.import_example_gen import executor as tfx_import
from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_beam_executor
from tfx.proto import example_gen_pb2
from tfx.types import standard_artifacts, standard_component_specs
from tfx.utils import proto_utils

from components.example_gen import executor as bounded
from components.example_gen import in_process
from components.example_gen.split import PositionSplit
from pipeline.pipeline import local_beam_args

ROWS = 600


def _write_csvs(directory: Path) -> None:
  directory.mkdir()
  for part in range(2):
    lines = ['id,amount,city,note,big']
    for row in range(part * ROWS // 2, (part + 1) * ROWS // 2):
      amount = f'{row}.5' if row == ROWS - 1 else ('' if row % 7 == 0 else str(row))
      note = '"has, a comma\nand a line"' if row % 50 == 0 else f'note {row % 3}'
      lines.append(f'{row},{amount},{"city" + str(row % 5)},{note},{row * 10**18}')
    (directory / f'part-{part}.csv').write_text('\n'.join(lines) + '\n')


def _run(executor_class, data: Path, out: Path, buckets=(3, 1), settings=None,
         given_splits=None) -> standard_artifacts.Examples:
  """The executor on `data`; `given_splits` ({name: pattern}) for data that arrives split."""
  splits = example_gen_pb2.Output(split_config=example_gen_pb2.SplitConfig(splits=[
      example_gen_pb2.SplitConfig.Split(name='train', hash_buckets=buckets[0]),
      example_gen_pb2.SplitConfig.Split(name='eval', hash_buckets=buckets[1])]))
  inputs = example_gen_pb2.Input(splits=[example_gen_pb2.Input.Split(name='all', pattern='*')])
  if given_splits:
    splits = example_gen_pb2.Output()
    inputs = example_gen_pb2.Input(splits=[
        example_gen_pb2.Input.Split(name=name, pattern=pattern)
        for name, pattern in given_splits.items()])
  properties = {}
  if settings:
    properties[standard_component_specs.CUSTOM_CONFIG_KEY] = proto_utils.proto_to_json(
        bounded.custom_config(settings))
  examples = standard_artifacts.Examples()
  examples.uri = str(out / 'examples')
  context = base_beam_executor.BaseBeamExecutor.Context(
      tmp_dir=str(out / 'tmp') + '/', unique_id='1', beam_pipeline_args=local_beam_args([]))
  executor_class(context).Do({}, {standard_component_specs.EXAMPLES_KEY: [examples]}, {
      standard_component_specs.INPUT_BASE_KEY: str(data),
      standard_component_specs.INPUT_CONFIG_KEY: proto_utils.proto_to_json(inputs),
      standard_component_specs.OUTPUT_CONFIG_KEY: proto_utils.proto_to_json(splits),
      standard_component_specs.OUTPUT_DATA_FORMAT_KEY: example_gen_pb2.FORMAT_TF_EXAMPLE,
      **properties,
  })
  return examples


def _serialized(examples, split: str):
  files = sorted(glob.glob(os.path.join(examples.uri, f'Split-{split}', '*.gz')))
  return list(tf.data.TFRecordDataset(files, compression_type='GZIP').as_numpy_iterator())


def _records(examples, split: str):
  return [tf.train.Example.FromString(record) for record in _serialized(examples, split)]


def _id(example: tf.train.Example) -> int:
  return example.features.feature['id'].int64_list.value[0]


def _write_tfrecords(examples, directory: Path) -> None:
  """TFX's CSV output, in id order, as TFRecord input: half gzipped, half not."""
  directory.mkdir()
  records = sorted(_serialized(examples, 'train') + _serialized(examples, 'eval'),
                   key=lambda record: _id(tf.train.Example.FromString(record)))
  for name, options, part in (('a.tfrecord.gz', 'GZIP', records[::2]),
                              ('b.tfrecord', None, records[1::2])):
    with tf.io.TFRecordWriter(str(directory / name), options) as writer:
      for record in part:
        writer.write(record)


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
  """{(format, 'tfx' or 'ours'): Examples}, and the root folder."""
  root = tmp_path_factory.mktemp('example_gen')
  _write_csvs(root / 'csv')
  result = {('csv', 'tfx'): _run(tfx_csv.Executor, root / 'csv', root / 'csv-tfx')}
  _write_tfrecords(result['csv', 'tfx'], root / 'tfrecord')
  result['tfrecord', 'tfx'] = _run(tfx_import.Executor, root / 'tfrecord', root / 'tfrecord-tfx')
  shard_bytes = bounded._SHARD_BYTES  # pylint: disable=protected-access
  bounded._SHARD_BYTES = 8192  # several shards, as at scale
  try:
    result['csv', 'ours'] = _run(bounded.CsvExecutor, root / 'csv', root / 'csv-ours')
    result['tfrecord', 'ours'] = _run(bounded.ImportExecutor, root / 'tfrecord',
                                      root / 'tfrecord-ours')
  finally:
    bounded._SHARD_BYTES = shard_bytes
  return result, root


def _all_records(examples):
  # A proto map's serialized order varies; compare the deterministic form.
  return sorted(e.SerializeToString(deterministic=True)
                for split in ('train', 'eval') for e in _records(examples, split))


@pytest.mark.parametrize('data_format', ['csv', 'tfrecord'])
def test_same_examples_as_tfx(runs, data_format):
  examples, _ = runs
  theirs = _all_records(examples[data_format, 'tfx'])
  assert len(theirs) == ROWS
  assert _all_records(examples[data_format, 'ours']) == theirs


@pytest.mark.parametrize('data_format', ['csv', 'tfrecord'])
def test_rows_split_by_position_in_the_configured_shares(runs, data_format):
  """600 rows in 3:1 buckets: each block of 4 rows holds exactly one eval row; the ids
  (row numbers) tell which, and the in-process reader assigns the same."""
  examples, root = runs
  eval_ids = {_id(e) for e in _records(examples[data_format, 'ours'], 'eval')}
  assert len(eval_ids) == ROWS // 4
  if data_format == 'csv':
    place = PositionSplit([3, 1], seed=0)
    expected = {_id(example) for key, number, example in in_process.positioned_csv_examples(
        sorted(glob.glob(str(root / 'csv' / '*.csv'))), input_base=str(root / 'csv'))
        if place(key, number) == 1}
    assert eval_ids == expected


def test_csv_types_widen_like_tfx(runs):
  examples, _ = runs
  parsed = _records(examples['csv', 'ours'], 'train')
  kinds = {name: feature.WhichOneof('kind')
           for example in parsed for name, feature in example.features.feature.items()
           if feature.WhichOneof('kind')}
  assert kinds == {'id': 'int64_list', 'amount': 'float_list', 'city': 'bytes_list',
                   'note': 'bytes_list', 'big': 'bytes_list'}
  notes = {example.features.feature['note'].bytes_list.value[0] for example in parsed}
  assert b'has, a comma\nand a line' in notes


@pytest.mark.parametrize('data_format', ['csv', 'tfrecord'])
def test_output_is_shuffled_and_temporary_shards_are_removed(runs, data_format):
  examples, root = runs
  ours = examples[data_format, 'ours']
  ids = [_id(example) for example in _records(ours, 'train')]
  assert ids != sorted(ids)
  assert not glob.glob(str(root / f'{data_format}-ours' / 'tmp' / '**' / 'shard-*'),
                       recursive=True)
  assert examples_utils.get_payload_format(ours) == example_gen_pb2.FORMAT_TF_EXAMPLE
  assert ours.split_names == '["train", "eval"]'


# A passenger-style table: three categorical columns (12 combinations) and a yes/no label
# whose rate depends on them: most rows repeat another row, often with the other label.
PASSENGERS = 1_300


def _write_passengers(directory: Path, rows: int = PASSENGERS, seed: int = 1) -> Path:
  rng = random.Random(seed)
  lines = ['passenger_class,age_group,sex,survived']
  for _ in range(rows):
    klass, age, sex = rng.choice('123'), rng.choice(['adult', 'child']), rng.choice('mf')
    rate = {'1': 0.55, '2': 0.4, '3': 0.2}[klass] + 0.3 * (sex == 'f') + 0.1 * (age == 'child')
    lines.append(f'{klass},{age},{sex},{"yes" if rng.random() < rate else "no"}')
  directory.mkdir(parents=True)
  (directory / 'passengers.csv').write_text('\n'.join(lines) + '\n')
  return directory


def _rows(examples, split):
  """(features, label) per row of a split of the passenger table."""
  def values(example):
    return {name: str(getattr(feature, feature.WhichOneof('kind')).value[0])
            for name, feature in example.features.feature.items()}
  return [(tuple(sorted((k, v) for k, v in values(e).items() if k != 'survived')),
           values(e)['survived']) for e in _records(examples, split)]


@pytest.fixture(scope='module')
def passengers(tmp_path_factory):
  """The pipeline's split (67:33 buckets) of the passenger table, twice, and by group."""
  root = tmp_path_factory.mktemp('passengers')
  data = _write_passengers(root / 'data')
  run = lambda name, **kwargs: _run(bounded.CsvExecutor, data, root / name,  # noqa: E731
                                    buckets=(67, 33), **kwargs)
  return {'first': run('first'), 'again': run('again'),
          'grouped': run('grouped', settings={'split_by': 'passenger_class'}), 'root': root}


def test_repeated_rows_split_in_the_configured_share(passengers):
  """TFX's content hash put 48% of such a table in eval; by position it is 33%."""
  train, evaluation = _rows(passengers['first'], 'train'), _rows(passengers['first'], 'eval')
  assert len(train) + len(evaluation) == PASSENGERS
  assert abs(len(evaluation) / PASSENGERS - 1 / 3) < 0.01
  # Copies of a row (same features and label) land in both splits, as in a random split.
  assert len(set(train) & set(evaluation)) >= 20
  # Every class of every feature combination seen in eval was seen in training.
  assert {features for features, _ in evaluation} <= {features for features, _ in train}


def test_the_split_is_the_same_on_a_rerun(passengers):
  for split in ('train', 'eval'):
    assert (collections.Counter(_rows(passengers['first'], split)) ==
            collections.Counter(_rows(passengers['again'], split)))


def _fit_and_score(train, evaluation) -> float:
  """A logistic regression on one-hot features: accuracy on the eval rows."""
  from sklearn.linear_model import LogisticRegression
  from sklearn.preprocessing import OneHotEncoder
  encoder = OneHotEncoder(handle_unknown='ignore').fit([list(dict(f).values()) for f, _ in train])
  model = LogisticRegression(max_iter=1000).fit(
      encoder.transform([list(dict(f).values()) for f, _ in train]), [y for _, y in train])
  predicted = model.predict(encoder.transform([list(dict(f).values()) for f, _ in evaluation]))
  return float(np.mean(predicted == np.array([y for _, y in evaluation])))


def test_eval_accuracy_is_that_of_a_random_split(passengers):
  """The content hash's split scored 0.0016 on such a table (the eval split held the other
  label of each group); by position the score matches scikit-learn's train_test_split's
  (mean of 5 seeds), within the noise of 430 eval rows (3 standard errors)."""
  from sklearn.model_selection import train_test_split
  ours = _fit_and_score(_rows(passengers['first'], 'train'), _rows(passengers['first'], 'eval'))
  rows = _rows(passengers['first'], 'train') + _rows(passengers['first'], 'eval')
  theirs = np.mean([_fit_and_score(*train_test_split(rows, test_size=0.33, random_state=seed))
                    for seed in range(5)])
  noise = 3 * np.sqrt(theirs * (1 - theirs) / (PASSENGERS / 3))
  assert abs(ours - theirs) < noise, (ours, theirs)


def test_a_group_never_straddles_the_splits(passengers):
  classes = {split: {dict(features)['passenger_class']
                     for features, _ in _rows(passengers['grouped'], split)}
             for split in ('train', 'eval')}
  assert classes['train'] and classes['eval']
  assert not classes['train'] & classes['eval']


def test_data_that_arrives_split_is_read_as_given(tmp_path):
  for name, rows in (('train', 60), ('eval', 25)):
    folder = tmp_path / 'data' / name
    folder.mkdir(parents=True)
    (folder / 'rows.csv').write_text(
        'id,x\n' + ''.join(f'{name}{i},{i}\n' for i in range(rows)))
  examples = _run(bounded.CsvExecutor, tmp_path / 'data', tmp_path / 'out',
                  given_splits={'train': 'train/*', 'eval': 'eval/*'})
  for name, rows in (('train', 60), ('eval', 25)):
    ids = {e.features.feature['id'].bytes_list.value[0].decode()
           for e in _records(examples, name)}
    assert ids == {f'{name}{i}' for i in range(rows)}


def test_files_whose_headers_differ_are_refused_naming_both(tmp_path):
  """Every row is converted by the first file's header: an eval file with the columns in
  another order would be read into the wrong columns."""
  for name, header in (('train', 'id,x'), ('eval', 'x,id')):
    (tmp_path / 'data' / name).mkdir(parents=True)
    (tmp_path / 'data' / name / 'rows.csv').write_text(header + '\n1,2\n')
  with pytest.raises(ValueError, match=r"eval/rows.csv: its header \(x, id\) differs from .*train/rows.csv's \(id, x\)"):
    _run(bounded.CsvExecutor, tmp_path / 'data', tmp_path / 'out',
         given_splits={'train': 'train/*', 'eval': 'eval/*'})
