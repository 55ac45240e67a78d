"""Test helpers for the phone side: a probe .tflite that shows which token ids the Task
Library's tokenizer fed it, and the eval split of a run's ModelOptimizer."""
from base import env  # noqa: F401  (before TensorFlow)

import os
from pathlib import Path
from typing import Dict, List

import numpy as np
import tensorflow as tf

from components.common import task_library, tflite_metadata


def token_ids_probe(length: int, delimiter: str, vocabulary_lines: List[str]) -> bytes:
  """A model whose scores are its input token ids, with the text family's tokenizer
  metadata: the NLClassifier's scores by index are then the ids it tokenized a text into."""

  @tf.function(input_signature=[tf.TensorSpec([1, length], tf.int32, name='token_ids')])
  def echo(token_ids):
    return {'probabilities': tf.cast(token_ids, tf.float32)}

  converter = tf.lite.TFLiteConverter.from_concrete_functions([echo.get_concrete_function()],
                                                              echo)
  return tflite_metadata.write(converter.convert(), {
      'name': 'probe', 'version': '1', 'description': 'token ids out', 'author': 'tests',
      'class_names': [str(i) for i in range(length)], 'kind': 'tokens',
      'delimiter': delimiter, 'vocabulary': vocabulary_lines,
      'input_description': 'token ids'})


def task_library_token_ids(probe: bytes, texts: List[str], folder: Path) -> np.ndarray:
  """[texts, length] int: the ids the Task Library's regex tokenizer gives each text."""
  path = folder / 'probe.tflite'
  path.write_bytes(probe)
  answer = task_library.classify(task_library.TEXT, {'probe': str(path)}, texts)['probe']
  return np.rint(np.array(answer['scores'])).astype(np.int64)


def packed_files(model_path: Path) -> Dict[str, str]:
  return tflite_metadata.read(model_path.read_bytes())['files']


def first_artifact(root: Path, component: str, output: str) -> Path:
  """A pipeline root's first artifact of a component output (a later run of the same root
  may have made others)."""
  folder = root / component / output
  return min(folder.iterdir(), key=lambda p: int(p.name))


def examples_dir(root: Path) -> str:
  """The first ExampleGen output of a pipeline root."""
  gens = [name for name in os.listdir(root) if name.endswith('ExampleGen')]
  return str(first_artifact(root, gens[0], 'examples'))


def build_unless_dynamic_range(request):
  """variant.build, except that the dynamic_range conversion dies of a segfault, as a
  converter bug would kill it."""
  import signal  # pylint: disable=import-outside-toplevel
  from components.model_optimizer import variant  # pylint: disable=import-outside-toplevel
  if request.variant == 'dynamic_range':
    os.kill(os.getpid(), signal.SIGSEGV)
  return variant.build(request)


def eval_rows(root: Path) -> List[bytes]:
  """Every serialized example of the eval split of a pipeline root's first ExampleGen run."""
  from components.common.examples import examples_artifact, read_examples  # pylint: disable=import-outside-toplevel
  return read_examples(examples_artifact(examples_dir(root)), 'eval', -1)


def serving_default_classes(saved_model_dir: str, rows: List[bytes], label_key: str) -> List[str]:
  """The predicted_class a SavedModel's serving_default gives each example, label left out."""
  from components.common.examples import without_label  # pylint: disable=import-outside-toplevel
  serving = tf.saved_model.load(saved_model_dir).signatures['serving_default']
  unlabeled = tf.constant([without_label(row, label_key) for row in rows])
  return [name.decode() for name in serving(examples=unlabeled)['predicted_class'].numpy()]
