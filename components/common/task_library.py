"""Runs .tflite files in the TFLite Task Library (`tflite_support.task`), the runtime an
Android or iOS app embeds: an ImageClassifier for an image family, an NLClassifier (which
tokenizes raw strings with the file's own regex tokenizer and vocabulary) for a text family.
It reads nothing but the file and its metadata, so it checks what an app would get.

The Task Library cannot share a process with TensorFlow: both register a pybind11 type
named StatusCode, and the second import fails (tensorflow/tensorflow#65943). It runs in a
child Python with TensorFlow kept out (`python -m components.common.task_library`, request
on stdin, answer on stdout).
"""
from __future__ import annotations

import json
import subprocess
import sys
from typing import Any, Dict, Sequence

IMAGE, TEXT = 'image', 'text'


def classify(kind: str, models: Dict[str, str], inputs: Sequence) -> Dict[str, Any]:
  """What the Task Library answers for each input, per model: {'scores': by class index
  (the output's columns), 'classes': the top category's name from the label file}.
  `inputs` are RGB images (nested lists of 0-255 values, [h][w][3]) for IMAGE, raw strings
  for TEXT. A model the Task Library refuses gets its error text instead."""
  request = json.dumps({'kind': kind, 'models': models, 'inputs': list(inputs)})
  completed = subprocess.run([sys.executable, '-m', __name__], input=request, text=True,
                             capture_output=True, check=False)
  if completed.returncode:
    raise RuntimeError(f'the Task Library process failed (exit {completed.returncode}): '
                       f'{completed.stderr.strip()[-2000:]}')
  return json.loads(completed.stdout.strip().splitlines()[-1])


def _classify(kind: str, path: str, inputs) -> Dict[str, list]:
  # pylint: disable=import-outside-toplevel
  import numpy as np
  from tflite_support.task import text, vision
  if kind == IMAGE:
    classifier = vision.ImageClassifier.create_from_file(path)
    results = (classifier.classify(vision.TensorImage.create_from_array(
        np.asarray(image, dtype=np.uint8))) for image in inputs)
  else:
    classifier = text.NLClassifier.create_from_file(path)
    results = (classifier.classify(string) for string in inputs)
  answers: Dict[str, list] = {'scores': [], 'classes': []}
  for result in results:
    categories = result.classifications[0].categories
    if kind == IMAGE:  # sorted by score, each with its index
      row = [0.0] * len(categories)
      for category in categories:
        row[category.index] = float(category.score)
    else:  # the NLClassifier gives every column in order, and index 0 for each
      row = [float(category.score) for category in categories]
    answers['scores'].append(row)
    answers['classes'].append(max(categories, key=lambda c: c.score).category_name)
  return answers


def _main() -> None:
  sys.modules['tensorflow'] = None  # an import of it fails at once instead of clashing
  from components.common.tflite_metadata import load_libusb  # pylint: disable=import-outside-toplevel
  load_libusb()
  request = json.load(sys.stdin)
  answers = {}
  for name, path in request['models'].items():
    try:
      answers[name] = _classify(request['kind'], path, request['inputs'])
    except (RuntimeError, ValueError) as err:  # the Task Library refused the file
      answers[name] = str(err)
  print(json.dumps(answers))


if __name__ == '__main__':
  _main()
