"""Counts eval rows that also appear in the training split with the same feature values.

Such rows let the eval metrics reward memorising instead of generalising. TFDV compares
distributions, not rows, and no TFX component looks for rows shared by two splits, so this
check is written here. Each example is reduced to a 16-byte digest of its features without
the label (a deterministic serialization), so the training split costs 16 bytes a row in
memory. TFX's hash split sends identical examples to one split, so leaks come from rows that
differ only in their label, or from data that arrives already split.
"""
from __future__ import annotations

import hashlib
import json
import os
from typing import Dict, List

import tensorflow as tf
from tfx import types

from components.common.examples import iter_examples, without_label
from components.common.errors import DataValidationError

REPORT_FILE = 'leakage.json'


class LeakageError(DataValidationError):
  """Too many eval rows also appear in the training split."""


def _digests(examples: types.Artifact, split: str, label_key: str) -> List[bytes]:
  return [hashlib.blake2b(without_label(record, label_key), digest_size=16).digest()
          for record in iter_examples(examples, split)]


def count(examples: types.Artifact, label_key: str) -> Dict[str, float]:
  train = set(_digests(examples, 'train', label_key))
  evaluation = _digests(examples, 'eval', label_key)
  shared = sum(digest in train for digest in evaluation)
  return {'train_rows': len(train), 'eval_rows': len(evaluation), 'eval_rows_in_train': shared,
          'fraction': shared / len(evaluation) if evaluation else 0.0}


def check(examples: types.Artifact, label_key: str, max_fraction: float, data_location: str,
          report_uri: str) -> Dict[str, float]:
  """Writes the counts to the report; raises LeakageError above `max_fraction`."""
  counts = count(examples, label_key)
  with tf.io.gfile.GFile(os.path.join(report_uri, REPORT_FILE), 'w') as out:
    json.dump(counts, out)
  if counts['fraction'] > max_fraction:
    raise LeakageError(
        f'Train/eval leakage in {data_location}: {counts["eval_rows_in_train"]} of '
        f'{counts["eval_rows"]} eval rows ({counts["fraction"]:.2%}) also appear in the '
        f'training split with the same feature values (limit data.max_leakage = '
        f'{max_fraction:.2%}). Remove duplicate rows from the data, or raise the limit if '
        'repeats are expected (nothing was trained or pushed).')
  return counts
