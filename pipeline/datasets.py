"""Where the example data comes from: built-in datasets that ship in installed packages,
or the user's own CSV/TFRecord files.

ExampleGen reads every file under its input directory that matches a pattern, so a source
is an (input directory, file pattern) pair. A pattern may hold TFX's span specs ({SPAN},
{VERSION}, {YYYY}-{MM}-{DD}) in its file or folder names: ExampleGen then reads the newest
span (see the ExampleGen guide's "Span, Version and Split").
"""
from __future__ import annotations

import dataclasses
import importlib.util
import os
from pathlib import Path
from typing import Callable, Optional


SPAN_SPECS = ('{SPAN}', '{VERSION}', '{YYYY}', '{MM}', '{DD}')


@dataclasses.dataclass(frozen=True)
class DataSource:
  input_base: Path
  pattern: str
  format: str  # 'csv' or 'tfrecord'

  @property
  def has_spans(self) -> bool:
    return has_spans(self.pattern)


def has_spans(path) -> bool:
  return any(spec in str(path) for spec in SPAN_SPECS)


def span_glob(pattern: str) -> str:
  """The pattern with each span spec as a wildcard (which files a span pattern covers)."""
  for spec in SPAN_SPECS:
    pattern = pattern.replace(spec, '*')
  return pattern


def _package_dir(package: str) -> Path:
  spec = importlib.util.find_spec(package)
  if spec is None or spec.origin is None:
    raise FileNotFoundError(f'the package {package!r} is not installed; run `make install`')
  return Path(spec.origin).parent


def _write_penguins(path: Path) -> None:
  """palmerpenguins' CSV writes missing values as "NA", which would make every numeric
  column with a gap a string column; the copy under the pipeline root leaves them empty."""
  original = _package_dir('palmerpenguins') / 'data' / 'penguins.csv'
  _write_if_changed(
      path, '\n'.join(','.join('' if cell == 'NA' else cell for cell in line.split(','))
                      for line in original.read_text(encoding='utf-8').splitlines()) + '\n')


def _write_penguin_years(folder: Path) -> None:
  """The penguins copy split by the `year` column into one span a year (2007, 2008, 2009):
  data that arrives over time, for spans, windows and `forge watch`."""
  original = _package_dir('palmerpenguins') / 'data' / 'penguins.csv'
  header, *rows = [','.join('' if cell == 'NA' else cell for cell in line.split(','))
                   for line in original.read_text(encoding='utf-8').splitlines()]
  year = header.split(',').index('year')
  for span in sorted({row.split(',')[year] for row in rows}):
    _write_if_changed(folder / f'year-{span}' / 'penguins.csv', '\n'.join(
        [header] + [row for row in rows if row.split(',')[year] == span]) + '\n')


def _write_taxi_months(folder: Path) -> None:
  """TFX's taxi sample split by `trip_start_month` into one span a month (1 to 12)."""
  import csv  # pylint: disable=import-outside-toplevel
  import io  # pylint: disable=import-outside-toplevel
  original = _package_dir('tfx') / 'examples' / 'chicago_taxi_pipeline' / 'data' / 'simple'
  with open(original / 'data.csv', newline='', encoding='utf-8') as f:
    reader = csv.reader(f)
    header = next(reader)
    month = header.index('trip_start_month')
    by_month: dict = {}
    for row in reader:
      by_month.setdefault(int(row[month]), []).append(row)
  for span, rows in sorted(by_month.items()):
    text = io.StringIO()
    csv.writer(text, lineterminator='\n').writerows([header, *rows])
    _write_if_changed(folder / f'month-{span}' / 'data.csv', text.getvalue())


def _write_digits(path: Path) -> None:
  """scikit-learn's 1,797 8x8 digits as uncompressed tf.Example TFRecords (ImportExampleGen's
  input): `pixels` (64 grey levels, row by row) and `digit` (the label)."""
  import tensorflow as tf  # imported here: the CLI's start-up does not need it
  from sklearn.datasets import load_digits

  path.parent.mkdir(parents=True, exist_ok=True)
  digits = load_digits()
  with tf.io.TFRecordWriter(str(path.with_suffix('.new'))) as writer:
    for image, label in zip(digits.data, digits.target):
      writer.write(tf.train.Example(features=tf.train.Features(feature={
          'pixels': tf.train.Feature(float_list=tf.train.FloatList(value=image.tolist())),
          'digit': tf.train.Feature(int64_list=tf.train.Int64List(value=[int(label)])),
      })).SerializeToString(deterministic=True))
  _write_if_changed(path, path.with_suffix('.new').read_bytes())
  path.with_suffix('.new').unlink()


def _in_tfx_wheel(*parts: str) -> Callable[[Path], Path]:
  return lambda work_dir: _package_dir('tfx').joinpath('examples', *parts)


def _under(name: str) -> Callable[[Path], Path]:
  return lambda work_dir: work_dir / name


@dataclasses.dataclass(frozen=True)
class Builtin:
  """A dataset that ships in an installed package: the folder and file pattern ExampleGen
  reads (under the run's data folder, or in the package itself) and, for a copy, how it is
  written there."""
  folder: Callable[[Path], Path]
  pattern: str
  format: str  # the file format it is read in (a copy in a bucket keeps it)
  write: Optional[Callable[[Path], None]] = None  # None: read in place
  schema: Optional[str] = None  # its curated schema's folder under schemas/ (default: name)


BUILTIN = {
    'penguins': Builtin(_under('penguins'), 'penguins.csv', 'csv',
                        lambda folder: _write_penguins(folder / 'penguins.csv')),
    'penguins_spans': Builtin(_under('penguins_spans'), 'year-{SPAN}/penguins.csv', 'csv',
                              _write_penguin_years, schema='penguins'),
    'chicago_taxi': Builtin(_in_tfx_wheel('chicago_taxi_pipeline', 'data', 'simple'),
                            'data.csv', 'csv'),
    'chicago_taxi_spans': Builtin(_under('chicago_taxi_spans'), 'month-{SPAN}/data.csv', 'csv',
                                  _write_taxi_months, schema='chicago_taxi'),
    # 100 labelled movie reviews (`label`, `text`).
    'imdb': Builtin(_in_tfx_wheel('imdb', 'data'), 'imdb_small_with_labels.txt', 'csv'),
    'digits': Builtin(_under('digits'), 'digits.tfrecord', 'tfrecord',
                      lambda folder: _write_digits(folder / 'digits.tfrecord')),
}


def _write_if_changed(path: Path, content: str | bytes) -> Path:
  """ExampleGen's cache key includes the file's modification time: rewrite only on change,
  and atomically, so a reader never sees half a file."""
  data = content.encode('utf-8') if isinstance(content, str) else content
  if path.is_file() and path.read_bytes() == data:
    return path
  path.parent.mkdir(parents=True, exist_ok=True)
  partial = path.with_suffix('.partial')
  partial.write_bytes(data)
  os.replace(partial, path)
  return path


def locate(builtin: str | None, path: Path | None, data_format: str,
           work_dir: Path) -> DataSource:
  """The ExampleGen input for a config's data section; writes nothing (see materialize)."""
  if builtin is not None:
    dataset = BUILTIN[builtin]
    return DataSource(dataset.folder(work_dir), dataset.pattern, dataset.format)
  if has_spans(path):
    parts = Path(path).parts
    fixed = next(i for i, part in enumerate(parts) if has_spans(part))
    return DataSource(Path(*parts[:fixed]).resolve(), '/'.join(parts[fixed:]), data_format)
  path = path.resolve()
  if path.is_file():
    return DataSource(path.parent, path.name, data_format)
  return DataSource(path, '*', data_format)


def materialize(builtin: str | None, work_dir: Path) -> None:
  """Writes a built-in dataset's copy under `work_dir`, when it has one and it changed."""
  if builtin is not None and BUILTIN[builtin].write is not None:
    BUILTIN[builtin].write(BUILTIN[builtin].folder(work_dir))


def resolve(builtin: str | None, path: Path | None, data_format: str,
            work_dir: Path) -> DataSource:
  """locate, after writing a built-in dataset's copy (tests and benchmarks use this)."""
  materialize(builtin, work_dir)
  return locate(builtin, path, data_format, work_dir)
