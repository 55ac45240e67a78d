"""ExampleGen executors (CSV and TFRecord) whose memory does not grow with the data.

TFX's executors make the same examples, but on Beam's DirectRunner they hold the whole
dataset in memory: each split is Reshuffled (a GroupByKey: every serialized example waits in
memory) before it is written, and CsvExampleGen's column types are a side input computed from
every parsed line before any line is converted (so every parsed line waits too). At 1.5M taxi
rows that is 4.8 GB. A cluster runner spills both to disk; the DirectRunner cannot.

These executors keep TFX's readers, CSV parsing, type inference, conversion and hash split
(the same examples land in the same split as with TFX's executors) and replace the two
in-memory steps with two Beam pipelines that stream:
  1. read the records and scatter them over temporary shards by a hash of their bytes (the
     CSV executor also infers the column types here, a streaming CombineGlobally);
  2. per shard: load it, shuffle it, (parse and convert), split, write gzipped TFRecords.
That is a two-pass external shuffle, written by hand: Beam has none that bounds memory on
the DirectRunner. Each shard is a hash-random sample of the data, shuffled whole, so the
output is as mixed as TFX's Reshuffle makes it while memory holds one shard (at most
_SHARD_BYTES of input).
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
from typing import Any, Dict, Iterator, List, Union

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.metrics.metric import MetricsFilter
from google.protobuf import json_format, struct_pb2
import tensorflow as tf
from tfx.components.example_gen import utils, write_split
from tfx.components.example_gen.base_example_gen_executor import (BaseExampleGenExecutor,
                                                                  _PartitionFn)
from tfx.components.example_gen.csv_example_gen.executor import (_ParsedCsvToTfExample,
                                                                 _ReadCsvRecordsFromTextFile)
from tfx.components.util import examples_utils
from tfx.dsl.io import fileio
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils
from tfx_bsl.coders import csv_decoder

from base.names import safe_column
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


class _ScatterToShards(beam.DoFn):
  """Writes each record to one of `num_shards` TFRecord files, chosen by a hash of its bytes
  (deterministic: the same data gives the same shards). Each bundle writes files of its
  own, so workers never share one."""

  def __init__(self, shard_dir: str, num_shards: int):
    self._shard_dir = shard_dir
    self._num_shards = num_shards
    self._writers = None

  def start_bundle(self):
    bundle = uuid.uuid4().hex
    self._writers = [
        tf.io.TFRecordWriter(os.path.join(self._shard_dir, f'shard-{index}-{bundle}'))
        for index in range(self._num_shards)]

  def process(self, record: Union[bytes, str]):
    if isinstance(record, str):
      record = record.encode('utf-8')
    self._writers[zlib.crc32(record) % self._num_shards].write(record)
    return ()  # a sink: nothing goes downstream

  def finish_bundle(self):
    for writer in self._writers:
      writer.close()


def _shuffled_shard(index: int, shard_dir: str) -> Iterator[bytes]:
  files = sorted(fileio.glob(os.path.join(shard_dir, f'shard-{index}-*')))
  # In batches: one record at a time is 20x slower.
  records = [record for batch in tf.data.TFRecordDataset(files).batch(8192).as_numpy_iterator()
             for record in batch]
  random.Random(index).shuffle(records)
  yield from records


class _BoundedMemoryExampleGen(BaseExampleGenExecutor):
  """Reads one input pattern, hash-splits it as configured, writes shuffled splits."""

  def _read(self, pipeline: beam.Pipeline, files: List[str]) -> beam.PCollection:
    """The input files as a PCollection of records (bytes or text)."""
    raise NotImplementedError

  def _survey(self, records: beam.PCollection, files: List[str], work_dir: str) -> None:
    """Optional: what the first pass learns from all records, written under work_dir."""

  def _to_examples(self, records: beam.PCollection, work_dir: str,
                   payload_format: int) -> beam.PCollection:
    """Records -> what TFX's executor splits: protos (or bytes for FORMAT_PROTO)."""
    raise NotImplementedError

  def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
    raise NotImplementedError('Do() runs its own two pipelines.')

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
    splits = output_config.split_config.splits
    if len(input_config.splits) != 1 or not splits:
      raise ValueError(f'{type(self).__name__} reads one input pattern and hash-splits it: '
                       'give it one input split and an output split_config '
                       '(pipeline/pipeline.py does).')
    input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
    files = sorted(fileio.glob(os.path.join(input_base, input_config.splits[0].pattern)))
    if not files:
      raise RuntimeError(f'No file matches {input_config.splits[0].pattern} in {input_base}.')

    examples = artifact_utils.get_single_instance(
        output_dict[standard_component_specs.EXAMPLES_KEY])
    split_names = utils.generate_output_split_names(input_config, output_config)
    examples.split_names = artifact_utils.encode_split_names(split_names)

    payload_format = exec_properties.get(standard_component_specs.OUTPUT_DATA_FORMAT_KEY,
                                         example_gen_pb2.FORMAT_TF_EXAMPLE)
    work_dir = os.path.join(self._get_tmp_dir(), 'shards')
    fileio.makedirs(work_dir)
    num_shards = max(1, math.ceil(sum(fileio.stat(f).length for f in files) / _SHARD_BYTES))
    try:
      with self._make_beam_pipeline() as pipeline:
        records = self._read(pipeline, files)
        _ = records | 'Scatter' >> beam.ParDo(_ScatterToShards(work_dir, num_shards))
        self._survey(records, files, work_dir)

      buckets = list(itertools.accumulate(split.hash_buckets for split in splits))
      unlabeled_key = self._custom_config.get('drop_unlabeled')
      with self._make_beam_pipeline() as pipeline:
        records = self._to_examples(pipeline
                                    | 'Shards' >> beam.Create(range(num_shards))
                                    | 'ShuffledShard' >> beam.FlatMap(_shuffled_shard, work_dir),
                                    work_dir, payload_format)
        if unlabeled_key:
          records |= 'DropUnlabeled' >> beam.Filter(_has_value, unlabeled_key)
        split_examples = (
            records
            | 'SplitData' >> beam.Partition(_PartitionFn, len(buckets), buckets,
                                            output_config.split_config))
        for split_name, split in zip(split_names, split_examples):
          _ = (split
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


_PROTO_CLASSES = {
    example_gen_pb2.FORMAT_TF_EXAMPLE: tf.train.Example,
    example_gen_pb2.FORMAT_TF_SEQUENCE_EXAMPLE: tf.train.SequenceExample,
    example_gen_pb2.FORMAT_PROTO: None,  # split and written as read
}


class ImportExecutor(_BoundedMemoryExampleGen):
  """TFRecord files of serialized examples (uncompressed or gzipped), as TFX's
  ImportExampleGen reads them."""

  def _read(self, pipeline, files):
    return (pipeline
            | 'TFRecordFiles' >> beam.Create(files)
            | 'ReadTFRecords' >> beam.io.ReadAllFromTFRecord())

  def _to_examples(self, records, work_dir, payload_format):
    if payload_format not in _PROTO_CLASSES:
      raise ValueError('ImportExampleGen here reads TFRecords of tf.Example, '
                       'tf.SequenceExample or other protos (payload_format FORMAT_TF_EXAMPLE, '
                       'FORMAT_TF_SEQUENCE_EXAMPLE or FORMAT_PROTO), not '
                       f'{example_gen_pb2.PayloadFormat.Name(payload_format)}.')
    proto_class = _PROTO_CLASSES[payload_format]
    # Parsed as TFX parses them: the split hashes the protos' deterministic serialization.
    return records | 'Parse' >> beam.Map(proto_class.FromString) if proto_class else records


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


class CsvExecutor(_BoundedMemoryExampleGen):
  """CSV files with a header, as TFX's CsvExampleGen reads them; the column types are
  inferred over all rows in the first pass (TFX's ColumnTypeInferrer)."""

  def _read(self, pipeline, files):
    return (pipeline
            | 'CsvFiles' >> beam.Create(files)
            | 'ReadCsvRecords' >> beam.ParDo(_ReadCsvRecordsFromTextFile()))

  def _delimiter(self) -> str:
    return self._custom_config.get('delimiter', ',')

  def _survey(self, records, files, work_dir):
    column_names = csv_column_names(files[0], self._delimiter())
    _ = (_parse_csv(records, 'ForTypes', self._delimiter())
         | 'InferColumnTypes' >> beam.CombineGlobally(
             csv_decoder.ColumnTypeInferrer(column_names, skip_blank_lines=True))
         | 'WriteColumnTypes' >> beam.Map(_write_column_types,
                                          os.path.join(work_dir, _COLUMN_TYPES_FILE)))

  def _to_examples(self, records, work_dir, payload_format):
    column_infos = _read_column_types(os.path.join(work_dir, _COLUMN_TYPES_FILE))
    return (_parse_csv(records | 'Decode' >> beam.Map(bytes.decode), '', self._delimiter())
            | 'ToTFExample' >> beam.ParDo(_ParsedCsvToTfExample(), column_infos))
