"""CsvExampleGen's executor, rewritten so that its memory does not grow with the data.

TFX's CsvExampleGen makes the same tf.Examples, but on Beam's DirectRunner it holds the
whole dataset in memory twice over: the column types are a side input computed from every
parsed line before any line is converted (so every parsed line waits in memory), and each
split is Reshuffled (a GroupByKey: every serialized example waits in memory) before it is
written. At 1.5M taxi rows that is 4.8 GB. A cluster runner spills both to disk; the
DirectRunner cannot.

This executor keeps TFX's parsing, type inference, conversion and hash split (the same
examples land in the same split as with TFX's executor) and replaces the two in-memory
steps with two Beam pipelines that stream:
  1. read the CSV records; infer the column types (a streaming CombineGlobally) and scatter
     the raw records over temporary shards by a hash of their text;
  2. per shard: load it, shuffle it, parse and convert with the types from pass 1, split,
     write gzipped TFRecords.
The shuffle is a two-pass external shuffle (hand-written; Beam has none that bounds
memory on the DirectRunner): each shard is a hash-random sample of the data, shuffled
whole, so the output is as mixed as TFX's Reshuffle makes it while memory holds one
shard (at most about _SHARD_BYTES of CSV text).
"""
from __future__ import annotations

import itertools
import json
import math
import os
import random
import uuid
import zlib
from typing import Any, Dict, Iterator, List

import apache_beam as beam
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
from tfx.utils import io_utils, proto_utils
from tfx_bsl.coders import csv_decoder

# CSV text per temporary shard: what pass 2 holds in memory at once (as Python strings,
# about three times this).
_SHARD_BYTES = 32 * 2**20
_TYPES_FILE = 'column_types.json'


class _ScatterToShards(beam.DoFn):
  """Writes each record to one of `num_shards` TFRecord files, chosen by a hash of its text
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

  def process(self, record: str):
    encoded = record.encode('utf-8')
    self._writers[zlib.crc32(encoded) % self._num_shards].write(encoded)
    return ()  # a sink: nothing goes downstream

  def finish_bundle(self):
    for writer in self._writers:
      writer.close()


def _shuffled_shard(index: int, shard_dir: str) -> Iterator[str]:
  files = sorted(fileio.glob(os.path.join(shard_dir, f'shard-{index}-*')))
  records = [record.decode('utf-8')
             for record in tf.data.TFRecordDataset(files).as_numpy_iterator()]
  random.Random(index).shuffle(records)
  yield from records


def _write_column_types(column_infos: List[csv_decoder.ColumnInfo], path: str) -> None:
  with fileio.open(path, 'w') as out:
    out.write(json.dumps([[info.name, int(info.type)] for info in column_infos]))


def _read_column_types(path: str) -> List[csv_decoder.ColumnInfo]:
  with fileio.open(path, 'r') as inp:
    return [csv_decoder.ColumnInfo(name, csv_decoder.ColumnType(kind))
            for name, kind in json.loads(inp.read())]


def _parsed(records: beam.PCollection, label: str) -> beam.PCollection:
  return (records
          | f'Parse{label}' >> beam.ParDo(csv_decoder.ParseCSVLine(delimiter=','))
          | f'Cells{label}' >> beam.Keys())


class Executor(BaseExampleGenExecutor):
  """CsvExampleGen in bounded memory (see the module docstring)."""

  def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
    raise NotImplementedError('Do() runs its own two pipelines.')

  def Do(self, input_dict: Dict[str, List[Any]], output_dict: Dict[str, List[Any]],
         exec_properties: Dict[str, Any]) -> None:
    self._log_startup(input_dict, output_dict, exec_properties)
    input_config = example_gen_pb2.Input()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY],
                              input_config)
    output_config = example_gen_pb2.Output()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.OUTPUT_CONFIG_KEY],
                              output_config)
    splits = output_config.split_config.splits
    if len(input_config.splits) != 1 or not splits:
      raise ValueError('This CsvExampleGen reads one input pattern and hash-splits it: give '
                       'output_config a split_config (pipeline.py does) and one input split.')
    csv_files = fileio.glob(
        os.path.join(exec_properties[standard_component_specs.INPUT_BASE_KEY],
                     input_config.splits[0].pattern))
    if not csv_files:
      raise RuntimeError(f'No CSV file matches {input_config.splits[0].pattern} in '
                         f'{exec_properties[standard_component_specs.INPUT_BASE_KEY]}.')
    column_names = io_utils.load_csv_column_names(csv_files[0])

    examples = artifact_utils.get_single_instance(
        output_dict[standard_component_specs.EXAMPLES_KEY])
    split_names = utils.generate_output_split_names(input_config, output_config)
    examples.split_names = artifact_utils.encode_split_names(split_names)

    shard_dir = os.path.join(self._get_tmp_dir(), 'csv-shards')
    fileio.makedirs(shard_dir)
    num_shards = max(1, math.ceil(sum(fileio.stat(f).length for f in csv_files)
                                  / _SHARD_BYTES))
    types_path = os.path.join(shard_dir, _TYPES_FILE)
    try:
      with self._make_beam_pipeline() as pipeline:
        records = (pipeline
                   | 'CsvFiles' >> beam.Create(csv_files)
                   | 'ReadCsvRecords' >> beam.ParDo(_ReadCsvRecordsFromTextFile()))
        _ = records | 'Scatter' >> beam.ParDo(_ScatterToShards(shard_dir, num_shards))
        _ = (_parsed(records, 'ForTypes')
             | 'InferColumnTypes' >> beam.CombineGlobally(
                 csv_decoder.ColumnTypeInferrer(column_names, skip_blank_lines=True))
             | 'WriteColumnTypes' >> beam.Map(_write_column_types, types_path))

      column_infos = _read_column_types(types_path)
      buckets = list(itertools.accumulate(split.hash_buckets for split in splits))
      with self._make_beam_pipeline() as pipeline:
        split_examples = (
            _parsed(pipeline
                    | 'Shards' >> beam.Create(range(num_shards))
                    | 'ShuffledShard' >> beam.FlatMap(_shuffled_shard, shard_dir), '')
            | 'ToTFExample' >> beam.ParDo(_ParsedCsvToTfExample(), column_infos)
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
      fileio.rmtree(shard_dir)

    payload_format = exec_properties.get(standard_component_specs.OUTPUT_DATA_FORMAT_KEY)
    if payload_format:
      examples_utils.set_payload_format(examples, payload_format)
    file_format = exec_properties.get(standard_component_specs.OUTPUT_FILE_FORMAT_KEY)
    if file_format:
      examples_utils.set_file_format(examples, write_split.to_file_format_str(file_format))
