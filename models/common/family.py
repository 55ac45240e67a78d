"""What a model family declares about its data; everything else is shared."""
from __future__ import annotations

import dataclasses
import hashlib
import importlib
from pathlib import Path
from typing import Tuple

MODELS_DIR = Path(__file__).resolve().parent.parent


def transformed_name(key: str) -> str:
  return key + '_xf'


@dataclasses.dataclass(frozen=True)
class Family:
  """A model family's contract with the shared pipeline and training code.

  `class_names[i]` is the name of label index i. Two classes make a binary task: the
  model outputs one probability (of class_names[1]); more make a multi-class task with
  one probability per class. `vocabulary_features` are the raw string features that
  preprocessing.categorical(inputs[key], key) turns into vocabulary indices; the mobile
  model looks them up in tables of its own (see signatures.py).
  """
  name: str
  label_key: str
  class_names: Tuple[str, ...]
  vocabulary_features: Tuple[str, ...] = ()

  @property
  def transformed_label_key(self) -> str:
    return transformed_name(self.label_key)

  @property
  def is_binary(self) -> bool:
    return len(self.class_names) == 2

  # Dotted paths TFX imports in its executors (no module-file wheels to build).
  @property
  def preprocessing_fn(self) -> str:
    return f'models.{self.name}.preprocessing.preprocessing_fn'

  @property
  def run_fn(self) -> str:
    return f'models.{self.name}.model.run_fn'

  @property
  def tuner_fn(self) -> str:
    return f'models.{self.name}.model.tuner_fn'

  @property
  def code_fingerprint(self) -> str:
    """A digest of the family's and models/common's source. TFX keys its cache by the
    dotted function paths above, not by what the functions do: passed to every component
    that runs this code, it makes an edited preprocessing or model re-run instead of
    reusing artifacts the old code made."""
    digest = hashlib.sha256()
    for folder in (MODELS_DIR / self.name, MODELS_DIR / 'common'):
      for source in sorted(folder.rglob('*.py')):
        digest.update(str(source.relative_to(MODELS_DIR)).encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


def load_family(name: str) -> Family:
  return importlib.import_module(f'models.{name}.features').FAMILY
