"""Pushes a blessed model where TF Serving loads it, only once it is known to serve.

TFX's Pusher copies the model straight into its version directory, so a server polling the
directory can load half a model, and it checks nothing. This executor stages the copy in a
hidden directory, adds warm-up requests, runs the serving check in a separate process,
then renames the staging directory to the version number (atomic on a local or mounted
filesystem; on gs:// or s3:// a rename copies objects, so there the directory appears
object by object) and lists the model in models.config. Paths go through tf.io.gfile so
the same code pushes to a bucket from Kubeflow.
"""
from __future__ import annotations

import posixpath
import time
from typing import Any, Dict, List, Optional, Tuple

import tensorflow as tf
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import io_utils, path_utils

from components.serving_pusher import check, model_config, warmup
from models.common.signature_names import SERVING_RAW
from pipeline.config import SAFE_NAME

STAGING_PREFIX = '.partial-'


def is_blessed(blessing: types.Artifact) -> bool:
  return blessing.get_int_custom_property('blessed') == 1


def next_version(model_dir: str) -> int:
  """Seconds since the epoch, like TFX's Pusher, but always above every existing version."""
  existing = [int(name.rstrip('/')) for name in tf.io.gfile.listdir(model_dir)
              if name.rstrip('/').isdigit()]
  return max([int(time.time())] + [v + 1 for v in existing])


def remove_dir(path: str) -> None:
  if tf.io.gfile.exists(path):
    tf.io.gfile.rmtree(path)


def model_dir_in(root: str, model_name: str) -> str:
  """<root>/<model_name>, refusing a name that could lead out of root. The config checks
  names too; this check holds for a pipeline compiled elsewhere (e.g. a KFP spec)."""
  if not SAFE_NAME.match(model_name):
    raise ValueError(f'model name {model_name!r} is not a safe directory name: use a letter, '
                     'then letters, digits, "_" or "-" (pipeline.name in the config)')
  return posixpath.join(root, model_name)


def staging_dir(model_dir: str) -> Tuple[int, str]:
  """The next version number and the hidden directory to build it in, after removing what
  an interrupted push left behind."""
  tf.io.gfile.makedirs(model_dir)
  for name in tf.io.gfile.listdir(model_dir):
    if name.startswith(STAGING_PREFIX):
      remove_dir(posixpath.join(model_dir, name.rstrip('/')))
  version = next_version(model_dir)
  return version, posixpath.join(model_dir, f'{STAGING_PREFIX}{version}')


def stage(model_path: str, staging: str, model_name: str, examples: List[bytes]) -> None:
  io_utils.copy_dir(model_path, staging)
  warmup.write(staging, model_name, examples, warmup.signature_inputs(staging, SERVING_RAW))


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
    tf.io.gfile.rename(staging, target)
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
    rows = warmup.eval_examples(examples.uri, exec_properties['label_key'],
                                exec_properties['warmup_rows'])
    target, pinned = push(path_utils.serving_model_path(model.uri), serving_dir, model_name,
                          rows, exec_properties['keep_versions'])
    pushed_model.set_int_custom_property('pushed', 1)
    pushed_model.set_string_custom_property('pushed_destination', target)
    pushed_model.set_int_custom_property('pushed_version', int(posixpath.basename(target)))
    if pinned is not None:
      pushed_model.set_int_custom_property('served_version_pinned', pinned)
