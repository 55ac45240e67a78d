"""The Evaluator's baseline on open-source Kubeflow Pipelines: the newest version pushed to
the serving directory.

KFP's backend runs only container and importer executors (backend/src/v2/compiler: "resolver
executors not implemented"), so TFX's resolver, an ML Metadata query, cannot run there. The
ServingPusher pushes only blessed models, so the newest complete version under
<serving_dir>/<model_name>/ is, by definition, the latest blessed model. Its files are copied
into the output Model artifact (as <uri>/Format-Serving, where TFX's Evaluator looks).

The KFP launcher registers every declared output artifact, whether the executor wrote one or
not (component/launcher_v2.go, uploadOutputArtifacts), so "no baseline" cannot be an empty
list there: the artifact is then left empty with the custom property `found` 0, and the
Evaluator leaves an artifact without a SavedModel out (small_batches/executor.py).
"""
from __future__ import annotations

import logging
import posixpath
from typing import Optional

import tensorflow as tf
from tfx import types
from tfx.utils import path_utils

from components.baseline_resolver.strategy import incompatible_models
from components.common.staging import model_dir_in

progress = logging.getLogger('forge.progress')
SAVED_MODEL = 'saved_model.pb'


def newest_pushed_version(serving_dir: str, model_name: str) -> Optional[str]:
  """<serving_dir>/<model_name>/<newest version>, or None when nothing was pushed. Only
  numbered directories holding saved_model.pb count: the pushers copy that file last and
  build a version in a hidden `.partial-` directory first (common/staging.py)."""
  model_dir = model_dir_in(serving_dir, model_name)
  if not tf.io.gfile.isdir(model_dir):
    return None
  versions = [int(name.rstrip('/')) for name in tf.io.gfile.listdir(model_dir)
              if name.rstrip('/').isdigit()
              and tf.io.gfile.exists(posixpath.join(model_dir, name.rstrip('/'), SAVED_MODEL))]
  return posixpath.join(model_dir, str(max(versions))) if versions else None


def copy_tree(source: str, target: str) -> None:
  for folder, _, names in tf.io.gfile.walk(source):
    destination = posixpath.join(target, posixpath.relpath(folder, source))
    tf.io.gfile.makedirs(destination)
    for name in names:
      tf.io.gfile.copy(posixpath.join(folder, name), posixpath.join(destination, name),
                       overwrite=True)


def find_baseline(candidate: types.Artifact, serving_dir: str, model_name: str,
                  baseline: types.Artifact) -> Optional[str]:
  """Fills `baseline` with the newest pushed version comparable with `candidate`; returns
  that version's directory, or None (then `baseline` stays empty)."""
  version_dir = newest_pushed_version(serving_dir, model_name)
  reason = None
  if version_dir is None:
    reason = f'nothing pushed to {model_dir_in(serving_dir, model_name)} yet'
  else:
    reason = incompatible_models(version_dir, path_utils.serving_model_path(candidate.uri))
    reason = reason and f'{version_dir} is not comparable: {reason}'
  if reason:
    progress.info('  No baseline model (%s): the Evaluator checks the thresholds only', reason)
    baseline.set_int_custom_property('found', 0)
    return None
  copy_tree(version_dir, path_utils.serving_model_dir(baseline.uri))
  baseline.set_int_custom_property('found', 1)
  baseline.set_string_custom_property('pushed_destination', version_dir)
  progress.info('  Baseline model: %s (the newest pushed version)', version_dir)
  return version_dir
