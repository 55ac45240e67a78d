"""Publishes the selected .tflite of a blessed model as one version directory:
`model.tflite` (its TFLite Metadata, which the ModelOptimizer wrote, now carries the version
number too), `labels.txt` (one class name per line, in output order; none for a
regression) and `metadata.json`
(inputs with dtypes and shapes, the output, quantization, and the variant's measurements).

Like the serving push, the version is staged in a hidden directory, loaded once more in the
LiteRT interpreter, then renamed into place, so an app syncing the folder never sees half a
version. Nothing is pushed when the model is not blessed or no variant met its budgets.
"""
from __future__ import annotations

import json
import posixpath
from typing import Any, Dict, List

import tensorflow as tf
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils

from components.common import tflite_measure, tflite_metadata
from components.common.artifacts import OPTIMIZATION_REPORT_FILE
from components.common.staging import (is_blessed, model_dir_in, publish, remove_dir,
                                       staging_dir)

MODEL_FILE = 'model.tflite'


def _metadata(report: Dict[str, Any], variant: str, model: bytes) -> Dict[str, Any]:
  signature_runner = tflite_measure.runner(model, threads=1)
  describe = lambda details: {'dtype': details['dtype'].__name__,
                              'shape': [int(d) for d in details['shape_signature']],
                              'quantization': [float(q) for q in details['quantization']]}
  return {
      'variant': variant,
      'signature': tflite_measure.MOBILE,
      'inputs': {name: describe(d) for name, d in signature_runner.get_input_details().items()},
      'outputs': {name: describe(d) for name, d in signature_runner.get_output_details().items()},
      'task': report.get('task', 'classification'),
      'labels': report['class_names'],
      'measured': report['variants'][variant],
      'savedmodel': report['savedmodel'],
  }


def push(model: bytes, report: Dict[str, Any], variant: str, mobile_dir: str,
         model_name: str) -> str:
  """Stages, checks and publishes one version; returns its directory."""
  model_dir = model_dir_in(mobile_dir, model_name)
  version, staging = staging_dir(model_dir)
  model = tflite_metadata.set_version(model, str(version))
  files = {
      MODEL_FILE: model,
      'metadata.json': json.dumps(_metadata(report, variant, model), indent=1).encode(),
  }
  if report['class_names']:  # a regression outputs a number, not a class
    files['labels.txt'] = ('\n'.join(report['class_names']) + '\n').encode()
  try:
    tf.io.gfile.makedirs(staging)
    for name, content in files.items():
      with tf.io.gfile.GFile(posixpath.join(staging, name), 'wb') as out:
        out.write(content)
    target = posixpath.join(model_dir, str(version))
    publish(staging, target, last_file=MODEL_FILE)
  finally:
    remove_dir(staging)
  return target


class Executor(base_executor.BaseExecutor):

  def Do(self, input_dict: Dict[str, List[types.Artifact]],
         output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]) -> None:
    single = artifact_utils.get_single_instance
    pushed = single(output_dict['pushed_mobile_model'])
    pushed.set_int_custom_property('pushed', 0)
    if not is_blessed(single(input_dict['model_blessing'])):
      return
    with tf.io.gfile.GFile(posixpath.join(single(input_dict['report']).uri, OPTIMIZATION_REPORT_FILE)) as f:
      report = json.load(f)
    variant = report['selected']
    if not variant:
      return
    path = posixpath.join(single(input_dict['tflite_models']).uri, f'{variant}.tflite')
    with tf.io.gfile.GFile(path, 'rb') as model_file:
      model = model_file.read()
    target = push(model, report, variant, exec_properties['mobile_dir'],
                  exec_properties['model_name'])
    pushed.set_int_custom_property('pushed', 1)
    pushed.set_string_custom_property('pushed_destination', target)
    pushed.set_string_custom_property('pushed_version', posixpath.basename(target))
    pushed.set_string_custom_property('variant', variant)
