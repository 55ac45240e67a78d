"""ExampleGen executors (CSV and TFRecord) whose memory does not grow with the data.

TFX's executors make the same examples, but on Beam's DirectRunner they hold the whole
dataset in memory: each split is Reshuffled (a GroupByKey: every serialized example waits in
memory) before it is written, and CsvExampleGen's column types are a side input computed from
every parsed line before any line is converted (so every parsed line waits too). At 1.5M taxi
rows that is 4.8 GB. A cluster runner spills both to disk; the DirectRunner cannot.

These executors keep TFX's readers, CSV parsing, type inference and conversion, split each
row by its position in the input (or a group column) instead of TFX's hash of its content
(split.py says why), and replace the two in-memory steps with two Beam pipelines that stream:
  1. read the records of each file in order, decide each one's split from its file and row
     number, and scatter them over temporary shards of that split (the CSV executor also
     infers the column types here, a streaming CombineGlobally);
  2. per split and shard: load it, shuffle it, (parse and convert), write gzipped TFRecords.
That is a two-pass external shuffle, written by hand: Beam has none that bounds memory on
the DirectRunner. Each shard is a random sample of its split, shuffled whole, so the output
is as mixed as TFX's Reshuffle makes it while memory holds one shard (at most _SHARD_BYTES
of input). Data that arrives split (one input split per pattern, as TFX's input_config
allows) keeps its splits.
"""
from __future__ import annotations

import csv
import itertools
import json
import math
import os
import random
import uuid
import zlib
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, Union

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.metrics.metric import MetricsFilter
from google.protobuf import json_format, struct_pb2
import tensorflow as tf
from tfx.components.example_gen import utils, write_split
from tfx.components.example_gen.base_example_gen_executor import BaseExampleGenExecutor
from tfx.components.example_gen.csv_example_gen.executor import (_ParsedCsvToTfExample,
                                                                 _ReadCsvRecordsFromTextFile)
from tfx.components.util import examples_utils
from tfx.dsl.io import fileio
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils
from tfx_bsl.coders import csv_decoder

from base.names import safe_column
from components.common.examples import first_value
from components.example_gen.split import GroupSplit, PositionSplit
from components.example_gen import spans

# Input per temporary shard: what the second pass holds in memory at once (as Python
# objects, about three times this).
_SHARD_BYTES = 32 * 2**20


# Custom property of the Examples artifact: rows left out for an empty label column.
UNLABELED_ROWS_DROPPED = 'unlabeled_rows_dropped'
_UNLABELED = 'unlabeled_rows'


def _has_value(example: tf.train.Example, key: str) -> bool:
  """False for an example whose `key` is absent or an empty list (an empty CSV cell),
  counted in the pipeline's metrics."""
  feature = example.features.feature.get(key)
  kind = feature.WhichOneof('kind') if feature is not None else None
  if kind and getattr(feature, kind).value:
    return True
  Metrics.counter('forge', _UNLABELED).inc()
  return False


def custom_settings(custom_config_json: str | None) -> Dict[str, Any]:
  """ExampleGen's custom_config (a CustomConfig proto holding a Struct) as a dict."""
  if not custom_config_json:
    return {}
  config = example_gen_pb2.CustomConfig()
  proto_utils.json_to_proto(custom_config_json, config)
  settings = struct_pb2.Struct()
  if config.HasField('custom_config'):
    config.custom_config.Unpack(settings)
  return json_format.MessageToDict(settings)


def custom_config(settings: Dict[str, Any]) -> example_gen_pb2.CustomConfig:
  """The CustomConfig proto ExampleGen's spec takes, holding `settings`."""
  struct = struct_pb2.Struct()
  struct.update(settings)
  config = example_gen_pb2.CustomConfig()
  config.custom_config.Pack(struct)
  return config


# A record as the first pass reads it: the file's name under input_base, its row number
# (0 = the first record after any header) and the record.
Row = Tuple[str, int, Union[bytes, str]]


class _ScatterToShards(beam.DoFn):
  """Writes each record to one of `num_shards` TFRecord files of the split `split_of` picks
  (from its file, row and, for a group split, its group value). The shard comes from the
  row's position, so repeated rows spread over shards too. Each bundle writes files of its
  own, so workers never share one."""

  def __init__(self, shard_dir: str, num_shards: int, split_of: Callable[[Row], int]):
    self._shard_dir = shard_dir
    self._num_shards = num_shards
    self._split_of = split_of
    self._writers = None
    self._bundle = None

  def start_bundle(self):
    self._writers = {}
    self._bundle = uuid.uuid4().hex

  def _writer(self, split: int, shard: int):
    key = (split, shard)
    if key not in self._writers:
      self._writers[key] = tf.io.TFRecordWriter(
          os.path.join(self._shard_dir, f'shard-{split}-{shard}-{self._bundle}'))
    return self._writers[key]

  def process(self, row: Row):
    file_key, number, record = row
    if isinstance(record, str):
      record = record.encode('utf-8')
    shard = zlib.crc32(f'{file_key}:{number}'.encode()) % self._num_shards
    self._writer(self._split_of(row), shard).write(record)
    return ()  # a sink: nothing goes downstream

  def finish_bundle(self):
    for writer in self._writers.values():
      writer.close()


def _shuffled_shard(index: int, split: int, shard_dir: str) -> Iterator[bytes]:
  files = sorted(fileio.glob(os.path.join(shard_dir, f'shard-{split}-{index}-*')))
  if not files:
    return
  # In batches: one record at a time is 20x slower.
  records = [record for batch in tf.data.TFRecordDataset(files).batch(8192).as_numpy_iterator()
             for record in batch]
  random.Random(index).shuffle(records)
  yield from records


class _InputSplit:
  """All rows of one input split go to the same output split (data that arrives split)."""

  def __init__(self, split: int):
    self._split = split

  def __call__(self, row: Row) -> int:
    return self._split


class _ByPosition:
  def __init__(self, position: PositionSplit):
    self._position = position

  def __call__(self, row: Row) -> int:
    return self._position(row[0], row[1])


class _ByGroup:
  """The split of a row's group; `group_of` reads the group value from a record."""

  def __init__(self, groups: GroupSplit, group_of: Callable[[Union[bytes, str]],
                                                            Optional[bytes]]):
    self._groups = groups
    self._group_of = group_of

  def __call__(self, row: Row) -> int:
    return self._groups(row[0], row[1], self._group_of(row[2]))


class _Convert(beam.PTransform):
  """One split's shuffled records -> examples (the executor's _to_examples, labelled per
  split)."""

  def __init__(self, to_examples: Callable[[beam.PCollection], beam.PCollection]):
    super().__init__()
    self._to_examples = to_examples

  def expand(self, records):
    return self._to_examples(records)


class _BoundedMemoryExampleGen(BaseExampleGenExecutor):
  """Reads the input patterns, splits the rows as configured, writes shuffled splits."""

  def _read(self, pipeline: beam.Pipeline, files: List[str], input_base: str,
            label: str) -> beam.PCollection:
    """The input files' records in order, as (file key, row number, record) Rows."""
    raise NotImplementedError

  def _group_reader(self, column: str, files: List[str]) -> Callable[[Any], Optional[bytes]]:
    """Reads a record's value in `column` (data.split_by), None when it has none."""
    raise NotImplementedError

  def _survey(self, records: beam.PCollection, files: List[str], work_dir: str) -> None:
    """Optional: what the first pass learns from all records, written under work_dir."""

  def _to_examples(self, records: beam.PCollection, work_dir: str,
                   payload_format: int) -> beam.PCollection:
    """Records -> what TFX's executor splits: protos (or bytes for FORMAT_PROTO)."""
    raise NotImplementedError

  def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
    raise NotImplementedError('Do() runs its own two pipelines.')

  def _split_of(self, output_config: example_gen_pb2.Output, files: List[str]):
    """How one input split's rows are assigned to the output splits."""
    buckets = [split.hash_buckets for split in output_config.split_config.splits]
    seed = int(self._custom_config.get('split_seed', 0))
    group_column = self._custom_config.get('split_by')
    if group_column:
      return _ByGroup(GroupSplit(buckets, seed), self._group_reader(group_column, files))
    return _ByPosition(PositionSplit(buckets, seed))

  def Do(self, input_dict: Dict[str, List[Any]], output_dict: Dict[str, List[Any]],
         exec_properties: Dict[str, Any]) -> None:
    self._log_startup(input_dict, output_dict, exec_properties)
    # Open-source KFP runs no ExampleGen driver: resolve {SPAN} here (spans.py).
    exec_properties = spans.resolve_when_no_driver_ran(exec_properties, output_dict)
    self._custom_config = custom_settings(
        exec_properties.get(standard_component_specs.CUSTOM_CONFIG_KEY))
    input_config = example_gen_pb2.Input()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY],
                              input_config)
    output_config = example_gen_pb2.Output()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.OUTPUT_CONFIG_KEY],
                              output_config)
    given_splits = len(input_config.splits) > 1
    if given_splits == bool(output_config.split_config.splits):
      raise ValueError(f'{type(self).__name__} reads one input pattern and splits it (an '
                       'output split_config), or one pattern per split as given (no output '
                       'split_config); pipeline/pipeline.py sets one or the other.')
    input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
    inputs = []
    for split in input_config.splits:
      files = sorted(fileio.glob(os.path.join(input_base, split.pattern)))
      if not files:
        raise RuntimeError(f'No file matches {split.pattern} in {input_base}'
                           + (f' (the {split.name} split).' if given_splits else '.'))
      inputs.append((split.name, files))
    all_files = [path for _, files in inputs for path in files]

    examples = artifact_utils.get_single_instance(
        output_dict[standard_component_specs.EXAMPLES_KEY])
    split_names = utils.generate_output_split_names(input_config, output_config)
    examples.split_names = artifact_utils.encode_split_names(split_names)

    payload_format = exec_properties.get(standard_component_specs.OUTPUT_DATA_FORMAT_KEY,
                                         example_gen_pb2.FORMAT_TF_EXAMPLE)
    work_dir = os.path.join(self._get_tmp_dir(), 'shards')
    fileio.makedirs(work_dir)
    # Each split gets this many shards: even the largest split's hold at most _SHARD_BYTES.
    num_shards = max(1, math.ceil(sum(fileio.stat(f).length for f in all_files)
                                  / _SHARD_BYTES))
    try:
      with self._make_beam_pipeline() as pipeline:
        every_split = []
        for index, (name, files) in enumerate(inputs):
          rows = self._read(pipeline, files, input_base, name)
          split_of = (_InputSplit(index) if given_splits
                      else self._split_of(output_config, files))
          _ = rows | f'Scatter[{name}]' >> beam.ParDo(
              _ScatterToShards(work_dir, num_shards, split_of))
          every_split.append(rows | f'Records[{name}]' >> beam.Map(lambda row: row[2]))
        self._survey(every_split | 'AllRecords' >> beam.Flatten(), all_files, work_dir)

      unlabeled_key = self._custom_config.get('drop_unlabeled')
      with self._make_beam_pipeline() as pipeline:
        for index, split_name in enumerate(split_names):
          records = (pipeline
                     | f'Shards[{split_name}]' >> beam.Create(range(num_shards))
                     | f'ShuffledShard[{split_name}]' >> beam.FlatMap(
                         _shuffled_shard, index, work_dir)
                     | f'ToExamples[{split_name}]' >> _Convert(
                         lambda pcoll: self._to_examples(pcoll, work_dir, payload_format)))
          if unlabeled_key:
            records |= f'DropUnlabeled[{split_name}]' >> beam.Filter(_has_value,
                                                                     unlabeled_key)
          _ = (records
               | f'Serialize[{split_name}]' >> beam.ParDo(write_split.MaybeSerialize())
               | f'Write[{split_name}]' >> beam.io.WriteToTFRecord(
                   os.path.join(artifact_utils.get_split_uri([examples], split_name),
                                write_split.DEFAULT_FILE_NAME),
                   file_name_suffix='.gz'))
    finally:
      fileio.rmtree(work_dir)

    if unlabeled_key:
      dropped = pipeline.result.metrics().query(
          MetricsFilter().with_name(_UNLABELED))['counters']
      examples.set_int_custom_property(UNLABELED_ROWS_DROPPED,
                                       sum(counter.committed or 0 for counter in dropped))
    examples_utils.set_payload_format(examples, payload_format)
    file_format = exec_properties.get(standard_component_specs.OUTPUT_FILE_FORMAT_KEY)
    if file_format:
      examples_utils.set_file_format(examples, write_split.to_file_format_str(file_format))


def file_key(path: str, input_base: str) -> str:
  """A file's name under the input directory: what a row's position is counted in (the same
  wherever the directory is)."""
  return os.path.relpath(path, input_base).replace(os.sep, '/')


_PROTO_CLASSES = {
    example_gen_pb2.FORMAT_TF_EXAMPLE: tf.train.Example,
    example_gen_pb2.FORMAT_TF_SEQUENCE_EXAMPLE: tf.train.SequenceExample,
    example_gen_pb2.FORMAT_PROTO: None,  # split and written as read
}


class ImportExecutor(_BoundedMemoryExampleGen):
  """TFRecord files of serialized examples (uncompressed or gzipped), as TFX's
  ImportExampleGen reads them."""

  def _read(self, pipeline, files, input_base, label):
    return (pipeline
            | f'TFRecordFiles[{label}]' >> beam.Create(files)
            | f'ReadTFRecords[{label}]' >> beam.FlatMap(numbered_tfrecords, input_base))

  def _group_reader(self, column, files):
    return _ExampleValue(column)

  def _to_examples(self, records, work_dir, payload_format):
    if payload_format not in _PROTO_CLASSES:
      raise ValueError('ImportExampleGen here reads TFRecords of tf.Example, '
                       'tf.SequenceExample or other protos (payload_format FORMAT_TF_EXAMPLE, '
                       'FORMAT_TF_SEQUENCE_EXAMPLE or FORMAT_PROTO), not '
                       f'{example_gen_pb2.PayloadFormat.Name(payload_format)}.')
    proto_class = _PROTO_CLASSES[payload_format]
    # Parsed as TFX parses them: the split hashes the protos' deterministic serialization.
    return records | 'Parse' >> beam.Map(proto_class.FromString) if proto_class else records


def numbered_tfrecords(path: str, input_base: str) -> Iterator[Row]:
  """A TFRecord file's records in order (gzipped or not, as ImportExampleGen reads them)."""
  with fileio.open(path, 'rb') as handle:
    gzipped = handle.read(2) == b'\x1f\x8b'
  records = tf.data.TFRecordDataset(path, compression_type='GZIP' if gzipped else '')
  key = file_key(path, input_base)
  numbers = itertools.count()
  for batch in records.batch(8192).as_numpy_iterator():
    for record in batch:
      yield key, next(numbers), record


class _ExampleValue:
  """A serialized tf.Example's first value in one feature, as bytes (None: no value)."""

  def __init__(self, column: str):
    self._column = column

  def __call__(self, record: bytes) -> Optional[bytes]:
    value = first_value(tf.train.Example.FromString(record), self._column)
    if value is None:
      return None
    return value if isinstance(value, bytes) else repr(value).encode()


_COLUMN_TYPES_FILE = 'column_types.json'


def _parse_csv(records: beam.PCollection, label: str, delimiter: str) -> beam.PCollection:
  return (records
          | f'Parse{label}' >> beam.ParDo(csv_decoder.ParseCSVLine(delimiter=delimiter))
          | f'Cells{label}' >> beam.Keys())


def csv_column_names(path: str, delimiter: str) -> List[str]:
  """The header's column names, made safe to name model inputs (safe_column: TensorFlow
  would rename 'od280/od315' in a signature). TFX's io_utils.load_csv_column_names splits
  the raw first line on ',': it keeps a UTF-8 byte-order mark (what spreadsheets write for
  "CSV UTF-8") in the first name, and splits quoted names. Read through Beam's filesystems,
  so a .gz file is decompressed as the records are."""
  with beam.io.filesystems.FileSystems.open(path) as handle:
    first = handle.readline().decode('utf-8').lstrip('\ufeff')
  return [safe_column(name) for name in next(csv.reader([first], delimiter=delimiter))]


def _write_column_types(column_infos: List[csv_decoder.ColumnInfo], path: str) -> None:
  with fileio.open(path, 'w') as out:
    out.write(json.dumps([[info.name, int(info.type)] for info in column_infos]))


def _read_column_types(path: str) -> List[csv_decoder.ColumnInfo]:
  with fileio.open(path, 'r') as inp:
    return [csv_decoder.ColumnInfo(name, csv_decoder.ColumnType(kind))
            for name, kind in json.loads(inp.read())]


def numbered_csv_records(path: str, input_base: str) -> Iterator[Row]:
  """A CSV file's records in order, as TFX's reader makes them (quoted line breaks kept)."""
  key = file_key(path, input_base)
  for number, record in enumerate(_ReadCsvRecordsFromTextFile().process(path)):
    yield key, number, record


class _CsvCell:
  """A CSV record's cell in one column, as bytes (None: empty)."""

  def __init__(self, index: int, delimiter: str):
    self._index = index
    self._delimiter = delimiter
    self._parser = None

  def __call__(self, record: str) -> Optional[bytes]:
    if self._parser is None:
      self._parser = csv_decoder.ParseCSVLine(self._delimiter)
      self._parser.setup()
    for cells, _ in self._parser.process(record):
      if self._index < len(cells) and cells[self._index]:
        return cells[self._index]
    return None


class CsvExecutor(_BoundedMemoryExampleGen):
  """CSV files with a header, as TFX's CsvExampleGen reads them; the column types are
  inferred over all rows in the first pass (TFX's ColumnTypeInferrer)."""

  def _read(self, pipeline, files, input_base, label):
    return (pipeline
            | f'CsvFiles[{label}]' >> beam.Create(files)
            | f'ReadCsvRecords[{label}]' >> beam.FlatMap(numbered_csv_records, input_base))

  def _group_reader(self, column, files):
    names = csv_column_names(files[0], self._delimiter())
    if safe_column(column) not in names:
      raise ValueError(f'data.split_by {column!r}: {files[0]} has no such column; its '
                       f'columns are {", ".join(names)}.')
    return _CsvCell(names.index(safe_column(column)), self._delimiter())

  def _delimiter(self) -> str:
    return self._custom_config.get('delimiter', ',')

  def _survey(self, records, files, work_dir):
    column_names = csv_column_names(files[0], self._delimiter())
    for path in files[1:]:  # every row is converted by the first file's header
      other = csv_column_names(path, self._delimiter())
      if other != column_names:
        raise ValueError(f'{path}: its header ({", ".join(other)}) differs from {files[0]}\'s '
                         f'({", ".join(column_names)}). Write every file (and data.eval_path\'s) '
                         'with the same columns in the same order.')
    _ = (_parse_csv(records, 'ForTypes', self._delimiter())
         | 'InferColumnTypes' >> beam.CombineGlobally(
             csv_decoder.ColumnTypeInferrer(column_names, skip_blank_lines=True))
         | 'WriteColumnTypes' >> beam.Map(_write_column_types,
                                          os.path.join(work_dir, _COLUMN_TYPES_FILE)))

  def _to_examples(self, records, work_dir, payload_format):
    column_infos = _read_column_types(os.path.join(work_dir, _COLUMN_TYPES_FILE))
    return (_parse_csv(records | 'Decode' >> beam.Map(bytes.decode), '', self._delimiter())
            | 'ToTFExample' >> beam.ParDo(_ParsedCsvToTfExample(), column_infos))
