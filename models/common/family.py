"""What a model family declares about its data; everything else is shared."""
from __future__ import annotations

import dataclasses
import hashlib
import importlib
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

MODELS_DIR = Path(__file__).resolve().parent.parent


TASKS = ('classification', 'regression')
PROBABILITIES = 'probabilities'
PREDICTION = 'prediction'
# What training.run writes beside TensorBoard's logs: hparams, strategy, epochs, privacy spent.
HISTORY_FILE = 'history.json'


def transformed_name(key: str) -> str:
  return key + '_xf'


@dataclasses.dataclass(frozen=True)
class ModelBody:
  """The network a family puts under the shared head (its model.py's BODY).

  `build(inputs, tf_transform_output, hparams)` returns the last hidden tensor from the
  transformed inputs; `default_hparams` are every hyperparameter it reads; `search_space(hp)`
  maps KerasTuner's values onto those hyperparameters (learning_rate may be among them).
  """
  build: Callable[..., Any]
  default_hparams: Mapping[str, Any]
  search_space: Callable[[Any], Dict[str, Any]]


@dataclasses.dataclass(frozen=True)
class ImageInput:
  """The mobile signature takes `feature` as an RGB image [batch, height, width, 3] of the
  raw values (the TFLite Task Library's ImageClassifier feeds only RGB; the graph averages
  the channels back into the grey levels Transform reads)."""
  feature: str
  height: int
  width: int


@dataclasses.dataclass(frozen=True)
class TokenInput:
  """The mobile signature takes `feature`'s token ids [batch, length] (int32) instead of the
  text: string ops are not TFLite builtins, so the app tokenizes, with the Task Library's
  regex tokenizer and the vocabulary the ModelOptimizer writes into the file's metadata.
  `delimiter` is the RE2 pattern between tokens; the vocabulary is Transform's file
  `feature`; ids count from 1, `padding` fills to `length`, one id past the vocabulary
  stands for every unknown token. Transform folds case (preprocessing.fold_case): a word
  in lower case, UPPER CASE or Capitalized is looked up in lower case, a mixed one
  ("McQueen") as it is; the phone's tokenizer cannot fold, so its vocabulary lists each
  lower-case word in those three spellings."""
  feature: str
  length: int
  delimiter: str
  padding: int = 0

  @staticmethod
  def spellings(word: str) -> Tuple[str, ...]:
    """The spellings the phone may see of a vocabulary word, which fold_case maps to it."""
    if word != word.lower():
      return (word,)
    return tuple(dict.fromkeys((word, word.capitalize(), word.upper())))


@dataclasses.dataclass(frozen=True)
class Family:
  """A model family's contract with the shared pipeline and training code.

  A classification family names its classes: `class_names[i]` is the name of label index
  i. Two classes make a binary task: the model outputs one probability (of class_names[1]);
  more make a multi-class task with one probability per class (the mobile signature gives
  one per class for both, so a phone's label file matches its columns). A regression family has no
  classes; its model outputs one number, `prediction`, in the label's units.
  `vocabulary_features` are the raw string features that preprocessing.categorical(
  inputs[key], key) turns into vocabulary indices; the mobile model looks them up in tables
  of its own (see signatures.py). `spec` is what a family built from the config (tabular)
  was built from; executors rebuild it with load_family(name, spec). `mobile_input` says
  what the mobile (TFLite) signature takes when not the raw features: an image or token
  ids. `body` is the model
  (load_family(..., with_body=True) attaches it; the data contract alone imports no
  TensorFlow, so the CLI and the DAG read it cheaply).
  """
  name: str
  label_key: str
  class_names: Tuple[str, ...] = ()
  vocabulary_features: Tuple[str, ...] = ()
  task: str = 'classification'
  mobile_input: Optional[ImageInput | TokenInput] = None
  spec: Optional[Dict[str, Any]] = dataclasses.field(default=None, compare=False)
  body: Optional[ModelBody] = dataclasses.field(default=None, compare=False, repr=False)

  def __post_init__(self):
    if self.task not in TASKS:
      raise ValueError(f'family {self.name!r}: task {self.task!r} is not one of {TASKS}')
    if self.task == 'classification' and len(self.class_names) < 2:
      raise ValueError(f'family {self.name!r}: a classification family needs at least two '
                       f'class names, got {list(self.class_names)}')
    if self.task == 'regression' and self.class_names:
      raise ValueError(f'family {self.name!r}: a regression family has no class names')
    if len(set(self.class_names)) != len(self.class_names):
      raise ValueError(f'family {self.name!r}: class names repeat: {list(self.class_names)}')

  def with_body(self, body: ModelBody) -> 'Family':
    return dataclasses.replace(self, body=body)

  def hparams(self, *overrides: Mapping[str, Any]) -> Dict[str, Any]:
    """The body's defaults updated by each of `overrides` in turn (the config's
    model.hparams, then the Tuner's values); an unknown key is refused, naming the known."""
    if self.body is None:
      raise ValueError(f'family {self.name!r} was loaded without its model (with_body=True)')
    merged = dict(self.body.default_hparams)
    for override in overrides:
      merged.update(override)
    unknown = set(merged) - set(self.body.default_hparams) - {'learning_rate'}
    if unknown:
      raise ValueError(f'model.hparams: unknown key(s) {sorted(unknown)} for the {self.name} '
                       f'family; it takes {sorted(self.body.default_hparams)}')
    return merged

  @property
  def is_regression(self) -> bool:
    return self.task == 'regression'

  @property
  def output_key(self) -> str:
    """The signatures' output TFMA, the serving check and TFLite read."""
    return PREDICTION if self.is_regression else PROBABILITIES

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


def load_family(name: str, spec: Optional[Dict[str, Any]] = None,
                with_body: bool = False) -> Family:
  """A code family's FAMILY, or a family built from its config `spec` (tabular); with its
  model.py's BODY attached when `with_body` (this imports TensorFlow). The one place a
  family is found by its name."""
  features = importlib.import_module(f'models.{name}.features')
  if hasattr(features, 'family_from_spec'):
    if not spec:
      raise ValueError(f'the {name} family is built from the config (model.label, '
                       'model.features, ...); none was given')
    family = features.family_from_spec(spec)
  else:
    family = features.FAMILY
  if with_body:
    family = family.with_body(importlib.import_module(f'models.{name}.model').BODY)
  return family
