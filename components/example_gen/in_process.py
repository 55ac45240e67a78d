"""The examples CsvExampleGen and ImportExampleGen make, read in this process without a
Beam pipeline, for small jobs that must see exactly what the pipeline will: `forge init
--data` profiling a table, and the tests' validation of many files.

CSV: two streaming passes, as the executor makes them: TFX's reader (quoted line breaks),
tfx_bsl's CSV parser and column type inference over every row, then TFX's conversion to
tf.Example with those types. TFRecord: the records as they are (gzipped or not).
"""
from __future__ import annotations

import os
from typing import Iterator, List, Optional, Tuple

import tensorflow as tf
from tfx.components.example_gen.csv_example_gen.executor import _ParsedCsvToTfExample
from tfx_bsl.coders import csv_decoder

from components.example_gen.executor import (csv_column_names, numbered_csv_records,
                                             numbered_tfrecords)

# An example and its position: the file's name under the input directory and its row
# number, as the executor counts them (what split.PositionSplit places it by).
Positioned = Tuple[str, int, tf.train.Example]


def _parsed_rows(files: List[str], delimiter: str,
                 input_base: str) -> Iterator[Tuple[str, int, list]]:
  parser = csv_decoder.ParseCSVLine(delimiter)
  parser.setup()
  for path in files:
    for key, number, record in numbered_csv_records(path, input_base):
      for cells, _ in parser.process(record):
        if cells:
          yield key, number, cells


def _input_base(files: List[str], input_base: Optional[str]) -> str:
  return input_base or os.path.dirname(files[0])


def positioned_csv_examples(files: List[str], delimiter: str = ',',
                            input_base: Optional[str] = None) -> Iterator[Positioned]:
  """The files' rows as CsvExampleGen converts them (all files share the first's header),
  with their positions."""
  base = _input_base(files, input_base)
  inferrer = csv_decoder.ColumnTypeInferrer(csv_column_names(files[0], delimiter),
                                            skip_blank_lines=True)
  accumulator = inferrer.create_accumulator()
  for _, _, cells in _parsed_rows(files, delimiter, base):
    accumulator = inferrer.add_input(accumulator, cells)
  column_infos = inferrer.extract_output(accumulator)
  converter = _ParsedCsvToTfExample()
  for key, number, cells in _parsed_rows(files, delimiter, base):
    for example in converter.process(cells, column_infos):
      yield key, number, example


def positioned_tfrecord_examples(files: List[str],
                                 input_base: Optional[str] = None) -> Iterator[Positioned]:
  base = _input_base(files, input_base)
  for path in files:
    for key, number, record in numbered_tfrecords(path, base):
      yield key, number, tf.train.Example.FromString(record)


def csv_examples(files: List[str], delimiter: str = ',') -> Iterator[tf.train.Example]:
  return (example for _, _, example in positioned_csv_examples(files, delimiter))


def tfrecord_examples(files: List[str]) -> Iterator[tf.train.Example]:
  return (example for _, _, example in positioned_tfrecord_examples(files))
