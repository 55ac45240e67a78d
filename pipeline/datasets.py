"""Where the example data comes from: built-in datasets that ship in installed packages,
or the user's own CSV/TFRecord files.

ExampleGen reads every file under its input directory that matches a pattern, so a source
is an (input directory, file pattern) pair.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import os
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class DataSource:
  input_base: Path
  pattern: str
  format: str  # 'csv' or 'tfrecord'


def _package_dir(package: str) -> Path:
  spec = importlib.util.find_spec(package)
  if spec is None or spec.origin is None:
    raise FileNotFoundError(f'the package {package!r} is not installed; run `make install`')
  return Path(spec.origin).parent


def _penguins(work_dir: Path) -> DataSource:
  """palmerpenguins' CSV writes missing values as "NA", which would make every numeric
  column with a gap a string column; the copy under the pipeline root leaves them empty."""
  original = _package_dir('palmerpenguins') / 'data' / 'penguins.csv'
  cleaned = _write_if_changed(
      work_dir / 'penguins' / 'penguins.csv',
      '\n'.join(','.join('' if cell == 'NA' else cell for cell in line.split(','))
                for line in original.read_text(encoding='utf-8').splitlines()) + '\n')
  return DataSource(cleaned.parent, cleaned.name, 'csv')


def _chicago_taxi(work_dir: Path) -> DataSource:
  del work_dir  # read in place from the tfx wheel
  csv = _package_dir('tfx') / 'examples' / 'chicago_taxi_pipeline' / 'data' / 'simple' / 'data.csv'
  return DataSource(csv.parent, csv.name, 'csv')


BUILTIN = {'penguins': _penguins, 'chicago_taxi': _chicago_taxi}


def _write_if_changed(path: Path, text: str) -> Path:
  """ExampleGen's cache key includes the file's modification time: rewrite only on change,
  and atomically, so a reader never sees half a file."""
  if path.is_file() and path.read_text(encoding='utf-8') == text:
    return path
  path.parent.mkdir(parents=True, exist_ok=True)
  partial = path.with_suffix('.partial')
  partial.write_text(text, encoding='utf-8')
  os.replace(partial, path)
  return path


def resolve(builtin: str | None, path: Path | None, data_format: str, work_dir: Path) -> DataSource:
  """Returns the ExampleGen input for a config's data section."""
  if builtin is not None:
    return BUILTIN[builtin](work_dir)
  path = path.resolve()
  if path.is_file():
    return DataSource(path.parent, path.name, data_format)
  return DataSource(path, '*', data_format)
