"""The tabular family: any table, described by the config instead of Python.

`model.label`, `model.task`, `model.classes` and `model.features` (columns by role) make
its Family; `forge init NAME --data PATH --label COLUMN` writes them from the data. What
each role becomes is in preprocessing.py; the model reads the roles back from the
transformed features' names and types, so it needs no description of its own.
"""
from typing import Any, Dict

from models.common.family import Family

NAME = 'tabular'
# Quantile buckets of a skewed number, one-hot beside its z-score.
BUCKETS = 10
BUCKET_SUFFIX = '_bucket_xf'
# Integer codes are one-hot over this many buckets (larger codes fold by modulo).
CODE_BUCKETS = 64
CODE_SUFFIX = '_code_xf'
# Categories beyond the most frequent ones share "no category".
MAX_CATEGORIES = 1000


def family_from_spec(spec: Dict[str, Any]) -> Family:
  """The Family of a config's model section (ModelSection.family_spec())."""
  return Family(name=NAME, label_key=spec['label'], task=spec['task'],
                class_names=tuple(spec.get('classes') or ()),
                vocabulary_features=tuple(spec['features']['categorical']), spec=spec)


def bucket_name(key: str) -> str:
  return key + BUCKET_SUFFIX


def code_name(key: str) -> str:
  return key + CODE_SUFFIX
