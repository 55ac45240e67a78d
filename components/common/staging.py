"""Versioned pushes shared by the serving and mobile pushers: the next version number, a
hidden staging directory, and publishing it so that a reader polling the model directory
never sees half a version.

On a local or mounted filesystem the staging directory is renamed into place (atomic). On
gs://, s3:// and other object stores a rename is a copy of each object in no set order, so
there the files are copied one by one with the file a reader waits for (`saved_model.pb`
for TF Serving, as TFX's own Pusher does; `model.tflite` for an app) copied last.
"""
from __future__ import annotations

import posixpath
import time
from typing import Tuple

import tensorflow as tf
from tfx import types

from base.names import SAFE_NAME

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


def renames_atomically(path: str) -> bool:
  """A path without a URI scheme is on a local or mounted filesystem."""
  return '://' not in path


def publish(staging: str, target: str, last_file: str) -> None:
  """Moves the staged version to `target`; a reader that waits for `last_file` sees it
  only once every other file is in place."""
  if renames_atomically(target):
    tf.io.gfile.rename(staging, target)
    return
  files = [posixpath.relpath(posixpath.join(folder, name), staging)
           for folder, _, names in tf.io.gfile.walk(staging) for name in names]
  for relative in sorted(files, key=lambda name: (name == last_file, name)):
    tf.io.gfile.makedirs(posixpath.dirname(posixpath.join(target, relative)))
    tf.io.gfile.copy(posixpath.join(staging, relative), posixpath.join(target, relative),
                     overwrite=True)
