"""Checks the user's data files before the pipeline starts, in plain Python (no TensorFlow
import), so that a malformed file stops the run in a second with its name, line and fix,
rather than minutes later deep inside a Beam worker's stack trace.

What it checks is what CsvExampleGen cannot report well: files that are missing, empty,
not UTF-8, without rows, with broken quoting or ragged rows, or with headers that differ
between files. Values against the schema (types, ranges, missing or unknown columns,
unseen labels) are TFDV's job, reported by DataValidationGate.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import List

# csv's default limit (128 KiB) is smaller than some real text cells.
csv.field_size_limit(16 * 2**20)


class DataFileError(ValueError):
  """A data file that cannot be read as configured; the message names the file and fix."""


def data_files(path: Path) -> List[Path]:
  """The files ExampleGen will read for data.path (a file, or every file in a directory)."""
  if path.is_file():
    return [path]
  files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith('.'))
  if not files:
    raise DataFileError(f'{path}: the data directory holds no files. Put the CSV or TFRecord '
                        'files there, or point data.path at a file.')
  return files


def _check_csv(path: Path) -> List[str]:
  """Returns the header; raises DataFileError at the first unreadable line."""
  data = path.read_bytes()
  if not data.strip():
    raise DataFileError(f'{path}: the file is empty. A CSV needs a header line, then rows.')
  try:
    text = data.decode('utf-8')
  except UnicodeDecodeError as err:
    line = data[:err.start].count(b'\n') + 1
    raise DataFileError(
        f'{path}: line {line} is not UTF-8 text (byte 0x{data[err.start]:02x}). Re-save the '
        'file as UTF-8 (e.g. iconv -f latin1 -t utf-8).') from None
  reader = csv.reader(io.StringIO(text, newline=''), strict=True)
  try:
    header = next(reader)
    rows = 0
    for row in reader:
      if not row:
        continue
      rows += 1
      if len(row) != len(header):
        raise DataFileError(
            f'{path}: line {reader.line_num} has {len(row)} fields, the header has '
            f'{len(header)} ({", ".join(header)}). A separator is missing or extra, or a '
            'text cell with a comma is not quoted.')
  except csv.Error as err:
    raise DataFileError(f'{path}: line {reader.line_num} cannot be parsed as CSV ({err}). '
                        'Check its quotes: a quoted cell must end with a closing quote, and a '
                        'quote inside a cell is written twice ("").') from None
  if not rows:
    raise DataFileError(f'{path}: the file has a header ({", ".join(header)}) but no rows.')
  return header


def check(path: Path, data_format: str) -> None:
  files = data_files(path)
  if data_format == 'tfrecord':
    for file in files:
      if file.stat().st_size == 0:
        raise DataFileError(f'{file}: the file is empty. It should hold tf.Example records.')
    return
  headers = {file: _check_csv(file) for file in files}
  first = files[0]
  for file, header in headers.items():
    if header != headers[first]:
      raise DataFileError(
          f'{file}: its header ({", ".join(header)}) differs from {first}\'s '
          f'({", ".join(headers[first])}). ExampleGen reads every file in {path} as one '
          'table: give them the same columns in the same order.')
