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


def _imdb(work_dir: Path) -> DataSource:
  """100 labelled movie reviews (`label`, `text`), read in place from the tfx wheel."""
  del work_dir
  csv = _package_dir('tfx') / 'examples' / 'imdb' / 'data' / 'imdb_small_with_labels.txt'
  return DataSource(csv.parent, csv.name, 'csv')


def _digits(work_dir: Path) -> DataSource:
  """scikit-learn's 1,797 8x8 digits as uncompressed tf.Example TFRecords (ImportExampleGen's
  input): `pixels` (64 grey levels, row by row) and `digit` (the label)."""
  import tensorflow as tf  # imported here: the CLI's start-up does not need it
  from sklearn.datasets import load_digits

  path = work_dir / 'digits' / 'digits.tfrecord'
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
  return DataSource(path.parent, path.name, 'tfrecord')


BUILTIN = {'penguins': _penguins, 'chicago_taxi': _chicago_taxi, 'digits': _digits,
           'imdb': _imdb}
# The file format each built-in dataset is written in (a copy in a bucket keeps it).
BUILTIN_FORMAT = {'penguins': 'csv', 'chicago_taxi': 'csv', 'digits': 'tfrecord',
                  'imdb': 'csv'}


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


def resolve(builtin: str | None, path: Path | None, data_format: str, work_dir: Path) -> DataSource:
  """Returns the ExampleGen input for a config's data section."""
  if builtin is not None:
    return BUILTIN[builtin](work_dir)
  path = path.resolve()
  if path.is_file():
    return DataSource(path.parent, path.name, data_format)
  return DataSource(path, '*', data_format)
