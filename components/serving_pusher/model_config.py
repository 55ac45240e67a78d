"""TF Serving's models.config (a ModelServerConfig text proto) beside the pushed models:
which models the server loads, from where, and which versions."""
from __future__ import annotations

import posixpath
from typing import Iterable, Optional, Set

import tensorflow as tf
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

FILE_NAME = 'models.config'
# Versions served at once: the previous version stays loaded for a rollback.
KEEP_VERSIONS = 2


def read(serving_dir: str) -> model_server_config_pb2.ModelServerConfig:
  path = posixpath.join(serving_dir, FILE_NAME)
  config = model_server_config_pb2.ModelServerConfig()
  if tf.io.gfile.exists(path):
    with tf.io.gfile.GFile(path) as source:
      text_format.Parse(source.read(), config)
  return config


def add_model(config: model_server_config_pb2.ModelServerConfig, model_name: str,
              base_path: str, keep_versions: int = KEEP_VERSIONS):
  """Lists a model that serves its newest `keep_versions` versions; returns its entry."""
  entry = config.model_config_list.config.add(
      name=model_name, base_path=base_path, model_platform='tensorflow')
  entry.model_version_policy.latest.num_versions = keep_versions
  return entry


def one_model(model_name: str, base_path: str, previous: Optional[str] = None) -> str:
  """The models.config text for one model (the Kubeflow serving manifests ship it); the
  version policy and labels of `previous` (the file's text, after a rollout) are kept."""
  config = model_server_config_pb2.ModelServerConfig()
  entry = add_model(config, model_name, base_path)
  if previous:
    old = _entry(text_format.Parse(previous, model_server_config_pb2.ModelServerConfig()),
                 model_name)
    if old is not None:
      entry.model_version_policy.CopyFrom(old.model_version_policy)
      entry.version_labels.update(old.version_labels)
  return text_format.MessageToString(config)


def write(serving_dir: str, config: model_server_config_pb2.ModelServerConfig) -> str:
  """Written aside, then renamed: the server polling the file never reads half of it."""
  path = posixpath.join(serving_dir, FILE_NAME)
  partial = posixpath.join(serving_dir, f'.{FILE_NAME}.partial')
  with tf.io.gfile.GFile(partial, 'w') as out:
    out.write(text_format.MessageToString(config))
  tf.io.gfile.rename(partial, path, overwrite=True)
  return path


def _entry(config, model_name: str):
  for entry in config.model_config_list.config:
    if entry.name == model_name:
      return entry
  return None


def register(serving_dir: str, model_name: str,
             keep_versions: int = KEEP_VERSIONS) -> Optional[int]:
  """Adds the model (serving its latest `keep_versions` versions) if it is not listed yet;
  returns the pinned version when a rollback pins one, else None."""
  config = read(serving_dir)
  entry = _entry(config, model_name)
  if entry is None:
    entry = add_model(config, model_name, posixpath.join(serving_dir, model_name),
                      keep_versions)
    write(serving_dir, config)
  if entry.model_version_policy.HasField('specific'):
    return entry.model_version_policy.specific.versions[0]
  return None


def pin(serving_dir: str, model_name: str, version: int) -> str:
  """Serves only `version` (a rollback) until `unpin`."""
  version_dir = posixpath.join(serving_dir, model_name, str(version))
  if not tf.io.gfile.exists(posixpath.join(version_dir, 'saved_model.pb')):
    raise FileNotFoundError(f'{version_dir}: no such pushed version')
  config = read(serving_dir)
  entry = _entry(config, model_name)
  if entry is None:
    raise LookupError(f'{posixpath.join(serving_dir, FILE_NAME)}: no model named {model_name!r}')
  entry.model_version_policy.ClearField('latest')
  entry.model_version_policy.specific.ClearField('versions')
  entry.model_version_policy.specific.versions.append(version)
  return write(serving_dir, config)


def unpin(serving_dir: str, model_name: str, keep_versions: int = KEEP_VERSIONS) -> str:
  config = read(serving_dir)
  entry = _entry(config, model_name)
  if entry is None:
    raise LookupError(f'{posixpath.join(serving_dir, FILE_NAME)}: no model named {model_name!r}')
  entry.model_version_policy.ClearField('specific')
  entry.model_version_policy.latest.num_versions = keep_versions
  return write(serving_dir, config)


def served_versions(serving_dir: str, model_name: str, on_disk: Iterable[int]) -> Set[int]:
  """The versions TF Serving loads by models.config's policy: the pinned one, or the newest
  `num_versions` of those on disk (KEEP_VERSIONS when the model is not listed yet)."""
  entry = _entry(read(serving_dir), model_name)
  policy = entry.model_version_policy if entry is not None else None
  if policy is not None and policy.HasField('specific'):
    return set(policy.specific.versions)
  keep = policy.latest.num_versions if policy is not None else KEEP_VERSIONS
  return set(sorted(on_disk)[-keep:])
