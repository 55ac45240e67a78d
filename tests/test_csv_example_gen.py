"""The bounded-memory CsvExampleGen executor against TFX's own, on one CSV with what CSVs
hold: a column that widens from int to float, empty cells, a quoted field with a comma and
a line break, a long integer (read as text), several files."""
from pipeline import env  # noqa: F401  (before TensorFlow)

import glob
import os
from pathlib import Path

import pytest
import tensorflow as tf
from tfx.components.example_gen.csv_example_gen import executor as tfx_csv
from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_beam_executor
from tfx.proto import example_gen_pb2
from tfx.types import standard_artifacts, standard_component_specs
from tfx.utils import proto_utils

from components.csv_example_gen import executor as bounded
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


def _records(examples, split: str):
  files = sorted(glob.glob(os.path.join(examples.uri, f'Split-{split}', '*.gz')))
  return [tf.train.Example.FromString(record) for record in
          tf.data.TFRecordDataset(files, compression_type='GZIP').as_numpy_iterator()]


@pytest.fixture(scope='module')
def both(tmp_path_factory):
  root = tmp_path_factory.mktemp('csv_example_gen')
  _write_csvs(root / 'data')
  shard_bytes = bounded._SHARD_BYTES  # pylint: disable=protected-access
  bounded._SHARD_BYTES = 8192  # several shards, as at scale
  try:
    ours = _run(bounded.Executor, root / 'data', root / 'ours')
  finally:
    bounded._SHARD_BYTES = shard_bytes
  return _run(tfx_csv.Executor, root / 'data', root / 'tfx'), ours, root


@pytest.mark.parametrize('split', ['train', 'eval'])
def test_same_examples_in_the_same_split_as_tfx(both, split):
  tfx_examples, ours, _ = both
  theirs = _records(tfx_examples, split)
  assert len(theirs) > ROWS // 10
  # A proto map's serialized order varies; TFX hashes the deterministic form to split.
  assert (sorted(e.SerializeToString(deterministic=True) for e in _records(ours, split)) ==
          sorted(e.SerializeToString(deterministic=True) for e in theirs))


def test_types_widen_like_tfx(both):
  _, ours, _ = both
  parsed = _records(ours, 'train')
  kinds = {name: feature.WhichOneof('kind')
           for example in parsed for name, feature in example.features.feature.items()
           if feature.WhichOneof('kind')}
  assert kinds == {'id': 'int64_list', 'amount': 'float_list', 'city': 'bytes_list',
                   'note': 'bytes_list', 'big': 'bytes_list'}
  notes = {example.features.feature['note'].bytes_list.value[0] for example in parsed}
  assert b'has, a comma\nand a line' in notes


def test_output_is_shuffled_and_temporary_shards_are_removed(both):
  _, ours, root = both
  ids = [example.features.feature['id'].int64_list.value[0]
         for example in _records(ours, 'train')]
  assert ids != sorted(ids)
  assert not glob.glob(str(root / 'ours' / 'tmp' / '**' / 'shard-*'), recursive=True)
  assert examples_utils.get_payload_format(ours) == example_gen_pb2.FORMAT_TF_EXAMPLE
  assert ours.split_names == '["train", "eval"]'
