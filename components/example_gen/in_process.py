"""The examples CsvExampleGen and ImportExampleGen make, read in this process without a
Beam pipeline, for small jobs that must see exactly what the pipeline will: `forge init
--data` profiling a table, and the tests' validation of many files.

CSV: two streaming passes, as the executor makes them: TFX's reader (quoted line breaks),
tfx_bsl's CSV parser and column type inference over every row, then TFX's conversion to
tf.Example with those types. TFRecord: the records as they are (gzipped or not).
"""
from __future__ import annotations

from typing import Iterator, List

import tensorflow as tf
from tfx.components.example_gen.csv_example_gen.executor import (_ParsedCsvToTfExample,
                                                                 _ReadCsvRecordsFromTextFile)
from tfx_bsl.coders import csv_decoder

from components.example_gen.executor import csv_column_names


def _parsed_rows(files: List[str], delimiter: str) -> Iterator[list]:
  parser = csv_decoder.ParseCSVLine(delimiter)
  parser.setup()
  for path in files:
    for record in _ReadCsvRecordsFromTextFile().process(path):
      for cells, _ in parser.process(record):
        if cells:
          yield cells


def csv_examples(files: List[str], delimiter: str = ',') -> Iterator[tf.train.Example]:
  """The files' rows as CsvExampleGen converts them (all files share the first's header)."""
  inferrer = csv_decoder.ColumnTypeInferrer(csv_column_names(files[0], delimiter),
                                            skip_blank_lines=True)
  accumulator = inferrer.create_accumulator()
  for cells in _parsed_rows(files, delimiter):
    accumulator = inferrer.add_input(accumulator, cells)
  column_infos = inferrer.extract_output(accumulator)
  converter = _ParsedCsvToTfExample()
  for cells in _parsed_rows(files, delimiter):
    yield from converter.process(cells, column_infos)


def tfrecord_examples(files: List[str]) -> Iterator[tf.train.Example]:
  for path in files:
    with open(path, 'rb') as handle:
      gzipped = handle.read(2) == b'\x1f\x8b'
    records = tf.data.TFRecordDataset(path, compression_type='GZIP' if gzipped else '')
    for batch in records.batch(4096).as_numpy_iterator():
      for record in batch:
        yield tf.train.Example.FromString(record)
