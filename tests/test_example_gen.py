"""The bounded-memory ExampleGen executors against TFX's own: CSV files with what CSVs hold
(a column that widens from int to float, empty cells, a quoted field with a comma and a
line break, a long integer read as text), and TFRecord files (one gzipped, one not)."""
from base import env  # noqa: F401  (before TensorFlow)

import glob
import os
from pathlib import Path

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


def _run(executor_class, data: Path, out: Path) -> standard_artifacts.Examples:
  splits = example_gen_pb2.Output(split_config=example_gen_pb2.SplitConfig(splits=[
      example_gen_pb2.SplitConfig.Split(name='train', hash_buckets=3),
      example_gen_pb2.SplitConfig.Split(name='eval', hash_buckets=1)]))
  inputs = example_gen_pb2.Input(splits=[example_gen_pb2.Input.Split(name='all', pattern='*')])
  examples = standard_artifacts.Examples()
  examples.uri = str(out / 'examples')
  context = base_beam_executor.BaseBeamExecutor.Context(
      tmp_dir=str(out / 'tmp') + '/', unique_id='1', beam_pipeline_args=local_beam_args([]))
  executor_class(context).Do({}, {standard_component_specs.EXAMPLES_KEY: [examples]}, {
      standard_component_specs.INPUT_BASE_KEY: str(data),
      standard_component_specs.INPUT_CONFIG_KEY: proto_utils.proto_to_json(inputs),
      standard_component_specs.OUTPUT_CONFIG_KEY: proto_utils.proto_to_json(splits),
      standard_component_specs.OUTPUT_DATA_FORMAT_KEY: example_gen_pb2.FORMAT_TF_EXAMPLE,
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


@pytest.mark.parametrize('data_format', ['csv', 'tfrecord'])
@pytest.mark.parametrize('split', ['train', 'eval'])
def test_same_examples_in_the_same_split_as_tfx(runs, data_format, split):
  examples, _ = runs
  theirs = _records(examples[data_format, 'tfx'], split)
  assert len(theirs) > ROWS // 10
  # A proto map's serialized order varies; TFX hashes the deterministic form to split.
  assert (sorted(e.SerializeToString(deterministic=True)
                 for e in _records(examples[data_format, 'ours'], split)) ==
          sorted(e.SerializeToString(deterministic=True) for e in theirs))


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
