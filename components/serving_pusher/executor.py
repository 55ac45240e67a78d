"""Pushes a blessed model where TF Serving loads it, only once it is known to serve.

TFX's Pusher copies the model straight into its version directory, so a server polling the
directory can load half a model, and it checks nothing. This executor stages the copy in a
hidden directory, adds warm-up requests, runs the serving check in a separate process,
then publishes the staging directory as the version number (components/common/staging.py:
a rename where that is atomic, else a copy with saved_model.pb last) and lists the model
in models.config. Paths go through tf.io.gfile so
the same code pushes to a bucket from Kubeflow.
"""
from __future__ import annotations

import posixpath
from typing import Any, Dict, List, Optional, Tuple

from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import io_utils, path_utils

from components.common.staging import (is_blessed, model_dir_in, publish, remove_dir,
                                       staging_dir)
from components.common.saved_model import signature_inputs
from components.serving_pusher import check, model_config, warmup
from base.signature_names import SERVING_RAW

# TF Serving and TFX's own tools take a version as available once this file is there.
SAVED_MODEL_FILE = 'saved_model.pb'

def stage(model_path: str, staging: str, model_name: str, examples: List[bytes]) -> None:
  io_utils.copy_dir(model_path, staging)
  warmup.write(staging, model_name, examples, signature_inputs(staging, SERVING_RAW))


def push(model_path: str, serving_dir: str, model_name: str, examples: List[bytes],
         keep_versions: int) -> Tuple[str, Optional[int]]:
  """Stages, checks and publishes one version; returns its directory and the version a
  rollback pins in models.config, if any. Nothing is left behind when a step fails."""
  model_dir = model_dir_in(serving_dir, model_name)
  version, staging = staging_dir(model_dir)
  try:
    stage(model_path, staging, model_name, examples)
    check.check_in_subprocess(staging)
    target = posixpath.join(model_dir, str(version))
    publish(staging, target, last_file=SAVED_MODEL_FILE)
  finally:
    remove_dir(staging)
  return target, model_config.register(serving_dir, model_name, keep_versions)


class Executor(base_executor.BaseExecutor):

  def Do(self, input_dict: Dict[str, List[types.Artifact]],
         output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]) -> None:
    pushed_model = artifact_utils.get_single_instance(output_dict['pushed_model'])
    blessing = artifact_utils.get_single_instance(input_dict['model_blessing'])
    if not is_blessed(blessing):
      pushed_model.set_int_custom_property('pushed', 0)
      return
    model = artifact_utils.get_single_instance(input_dict['model'])
    examples = artifact_utils.get_single_instance(input_dict['examples'])
    serving_dir = exec_properties['serving_dir']
    model_name = exec_properties['model_name']
    rows = warmup.eval_examples(examples, exec_properties['label_key'],
                                exec_properties['warmup_rows'])
    target, pinned = push(path_utils.serving_model_path(model.uri), serving_dir, model_name,
                          rows, exec_properties['keep_versions'])
    pushed_model.set_int_custom_property('pushed', 1)
    pushed_model.set_string_custom_property('pushed_destination', target)
    # A string, as TFX's Pusher writes it (tools reading ML Metadata expect one).
    pushed_model.set_string_custom_property('pushed_version', posixpath.basename(target))
    if pinned is not None:
      pushed_model.set_int_custom_property('served_version_pinned', pinned)
