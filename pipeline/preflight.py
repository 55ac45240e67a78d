"""Checks the user's data files before the pipeline starts, in plain Python (no TensorFlow
import), so that a malformed file stops the run in a second with its name, line and fix,
rather than minutes later deep inside a Beam worker's stack trace.

What it checks is what CsvExampleGen cannot report well: files that are missing, empty,
not UTF-8 (UTF-16 from a spreadsheet's "Unicode text"), without rows, with broken quoting
or ragged rows, with another separator than the configured one, with a header that repeats
a column, leaves one unnamed or names two that ExampleGen would read under the same safe
name (components/common/names.safe_column), or with headers that differ between files. Values against the schema (types, ranges, missing
or unknown columns, unseen labels) are TFDV's job, reported by DataValidationGate.

Files are streamed line by line (gzipped ones too), so memory stays flat on big files.
A UTF-8 byte-order mark is read as UTF-8, as ExampleGen does.
"""
from __future__ import annotations

import codecs
import csv
import gzip
from pathlib import Path
from typing import IO, Iterator, List, Tuple

from base.names import safe_column
from pipeline import datasets

# csv's default limit (128 KiB) is smaller than some real text cells.
FIELD_SIZE_LIMIT = 16 * 2**20
csv.field_size_limit(FIELD_SIZE_LIMIT)

_OTHER_SEPARATORS = {';': 'semicolon', '\t': 'tab', '|': 'pipe'}
_SEPARATOR_KEYS = {';': "';'", '\t': "'\\t'", '|': "'|'", ',': "','"}


class DataFileError(ValueError):
  """A data file that cannot be read as configured; the message names the file and fix."""


def data_files(path: Path) -> List[Path]:
  """The files ExampleGen will read for data.path (a file, or every file in a directory);
  for a span pattern, every span's (ExampleGen reads the newest; the others were read
  before, or are what data.window adds)."""
  if datasets.has_spans(path):
    source = datasets.locate(None, path, 'csv', Path('.'))
    files = sorted(p for p in source.input_base.glob(datasets.span_glob(source.pattern))
                   if p.is_file())
    if not files:
      raise DataFileError(f'{path}: no file matches the span pattern yet.')
    return files
  if path.is_file():
    return [path]
  files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith('.'))
  if not files:
    raise DataFileError(f'{path}: the data directory holds no files. Put the CSV or TFRecord '
                        'files there, or point data.path at a file.')
  return files


def open_binary(path: Path) -> IO[bytes]:
  """The file's bytes, decompressed when it is gzipped (ExampleGen reads .gz the same way)."""
  return gzip.open(path, 'rb') if path.suffix == '.gz' else open(path, 'rb')


def _text_lines(path: Path, handle: IO[bytes]) -> Iterator[str]:
  """Decoded lines (ends kept, for csv's quoted line breaks); names the first bad line."""
  for number, raw in enumerate(handle, start=1):
    if number == 1:
      if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise DataFileError(
            f'{path}: the file is UTF-16 text (a spreadsheet\'s "Unicode text" export). '
            'Save it as "CSV UTF-8", or convert it: iconv -f utf-16 -t utf-8.')
      raw = raw[len(codecs.BOM_UTF8):] if raw.startswith(codecs.BOM_UTF8) else raw
    try:
      yield raw.decode('utf-8')
    except UnicodeDecodeError as err:
      raise DataFileError(
          f'{path}: line {number} is not UTF-8 text (byte 0x{raw[err.start]:02x}). Re-save the '
          'file as UTF-8 (e.g. iconv -f latin1 -t utf-8).') from None


def _balanced_quotes(path: Path, lines: Iterator[str]) -> Iterator[str]:
  """Passes the lines on; raises at the end when a quote never closed. ExampleGen joins
  lines into one record while the count of '"' is odd (TFX's _CsvLineBuffer), so a stray
  quote inside an unquoted cell, which Python's csv reads as a character, swallows every
  line after it there."""
  opened_at = None
  for number, line in enumerate(lines, start=1):
    if line.count('"') % 2:
      opened_at = None if opened_at else number
    yield line
  if opened_at:
    raise DataFileError(
        f'{path}: line {opened_at} has a quote (") that no later line closes. A quote inside '
        'a cell must be written twice (""), and the whole cell quoted.')


def check_header(path: Path, header: List[str], delimiter: str) -> None:
  """Refuses a header ExampleGen would read into the wrong columns, naming the fix."""
  if len(header) == 1:
    for other, name in _OTHER_SEPARATORS.items():
      if other != delimiter and other in header[0]:
        raise DataFileError(
            f'{path}: the header is one column, {header[0][:80]!r}, which looks '
            f'{name}-separated. Set data.delimiter: {_SEPARATOR_KEYS[other]} in the config '
            f'for such files (forge init: --delimiter {_SEPARATOR_KEYS[other]}).')
  seen = {}
  for position, name in enumerate(header, start=1):
    if not name.strip():
      raise DataFileError(
          f'{path}: column {position} of the header has no name (a spreadsheet\'s row-number '
          'column, or a separator at the end of each line). Name it, or remove it.')
    if name in seen:
      raise DataFileError(
          f'{path}: the header names column {name!r} twice, at positions {seen[name]} and '
          f'{position}. Rename or remove one of them.')
    seen[name] = position
  read_as = {}
  for name in header:
    safe = safe_column(name)
    if safe in read_as:
      raise DataFileError(
          f'{path}: columns {read_as[safe]!r} and {name!r} would both be read as {safe!r} '
          '(model inputs take letters, digits and "_"). Rename one of them.')
    read_as[safe] = name


def renamed_columns(header: List[str]) -> List[Tuple[str, str]]:
  """(name in the file, name in the pipeline) for each column ExampleGen renames."""
  return [(name, safe_column(name)) for name in header if safe_column(name) != name]


def _check_csv(path: Path, delimiter: str) -> List[str]:
  """Returns the header; raises DataFileError at the first unreadable line."""
  with open_binary(path) as handle:
    try:
      reader = csv.reader(_balanced_quotes(path, _text_lines(path, handle)), delimiter=delimiter, strict=True)
      header = next(reader, None)
      if header is None or not any(cell.strip() for cell in header):
        raise DataFileError(f'{path}: the file is empty. A CSV needs a header line, then rows.')
      check_header(path, header, delimiter)
      rows = 0
      for row in reader:
        if not row:
          continue
        rows += 1
        if len(row) != len(header):
          raise DataFileError(
              f'{path}: line {reader.line_num} has {len(row)} fields, the header has '
              f'{len(header)} ({", ".join(header)}). A separator is missing or extra, or a '
              'text cell with a separator is not quoted.')
    except csv.Error as err:
      raise DataFileError(
          f'{path}: line {reader.line_num} cannot be parsed as CSV ({err}). Check its quotes: '
          'a quoted cell must end with a closing quote, and a quote inside a cell is written '
          f'twice (""); a cell holds at most {FIELD_SIZE_LIMIT // 2**20} MiB.') from None
    except (EOFError, OSError) as err:  # a truncated or corrupt .gz
      raise DataFileError(f'{path}: the file cannot be read to its end ({err}). Copy or '
                          'compress it again.') from None
  if not rows:
    raise DataFileError(f'{path}: the file has a header ({", ".join(header)}) but no rows.')
  return header


def check(path: Path, data_format: str, delimiter: str = ',') -> None:
  files = data_files(path)
  if data_format == 'tfrecord':
    for file in files:
      if file.stat().st_size == 0:
        raise DataFileError(f'{file}: the file is empty. It should hold tf.Example records.')
    return
  headers = {file: _check_csv(file, delimiter) for file in files}
  first = files[0]
  for file, header in headers.items():
    if header != headers[first]:
      raise DataFileError(
          f'{file}: its header ({", ".join(header)}) differs from {first}\'s '
          f'({", ".join(headers[first])}). ExampleGen reads every file in {path} as one '
          'table: give them the same columns in the same order.')
