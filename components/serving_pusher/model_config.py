"""TF Serving's models.config (a ModelServerConfig text proto) beside the pushed models:
which models the server loads, from where, and which versions, with version labels for a
canary rollout (`stable`, `canary`: clients call /v1/models/<name>/labels/<label>).

The same functions edit the copy the Kubernetes manifests ship (pass its directory as
`serving_dir`); versions are checked on disk only where base_path is a local path."""
from __future__ import annotations

import posixpath
from typing import Dict, Iterable, Optional, Set

import tensorflow as tf
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

FILE_NAME = 'models.config'
# Versions served at once: the previous version stays loaded for a rollback.
KEEP_VERSIONS = 2
STABLE, CANARY = 'stable', 'canary'


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


def _model_entry(config, serving_dir: str, model_name: str):
  entry = _entry(config, model_name)
  if entry is None:
    raise LookupError(f'{posixpath.join(serving_dir, FILE_NAME)}: no model named {model_name!r}')
  return entry


def _check_pushed(entry, version: int) -> None:
  """A version TF Serving could load: its saved_model.pb is there (local base paths only;
  a bucket is for the server's credentials to read)."""
  if '://' in entry.base_path:
    return
  version_dir = posixpath.join(entry.base_path, str(version))
  if not tf.io.gfile.exists(posixpath.join(version_dir, 'saved_model.pb')):
    raise FileNotFoundError(f'{version_dir}: no such pushed version')


def _serve(entry, versions: Iterable[int], labels: Dict[str, int]) -> None:
  entry.model_version_policy.ClearField('latest')
  entry.model_version_policy.specific.ClearField('versions')
  entry.model_version_policy.specific.versions.extend(sorted(set(versions)))
  entry.ClearField('version_labels')
  entry.version_labels.update(labels)


def labels(serving_dir: str, model_name: str) -> Dict[str, int]:
  entry = _entry(read(serving_dir), model_name)
  return dict(entry.version_labels) if entry is not None else {}


def pin(serving_dir: str, model_name: str, version: int) -> str:
  """Serves only `version` (a rollback) until `unpin`. The stable label follows it when the
  version is one the labels name (loaded, so TF Serving accepts the label); otherwise the
  labels are dropped, as TF Serving refuses a label moved onto a version not loaded yet."""
  config = read(serving_dir)
  entry = _model_entry(config, serving_dir, model_name)
  _check_pushed(entry, version)
  labelled = version in entry.version_labels.values()
  _serve(entry, [version], {STABLE: version} if labelled else {})
  return write(serving_dir, config)


def unpin(serving_dir: str, model_name: str, keep_versions: int = KEEP_VERSIONS) -> str:
  config = read(serving_dir)
  entry = _model_entry(config, serving_dir, model_name)
  entry.model_version_policy.ClearField('specific')
  entry.model_version_policy.latest.num_versions = keep_versions
  entry.ClearField('version_labels')  # which versions load is the server's choice now
  return write(serving_dir, config)


def _pushed_on_disk(entry) -> list:
  if '://' in entry.base_path or not tf.io.gfile.isdir(entry.base_path):
    return []
  return sorted(int(name.rstrip('/')) for name in tf.io.gfile.listdir(entry.base_path)
                if name.rstrip('/').isdigit() and tf.io.gfile.exists(
                    posixpath.join(entry.base_path, name.rstrip('/'), 'saved_model.pb')))


def rollout(serving_dir: str, model_name: str, canary: int,
            stable: Optional[int] = None) -> Dict[str, int]:
  """Serves `stable` and `canary` side by side, labelled so. `stable` defaults to the
  version labelled stable, else the pinned one, else the newest pushed version below the
  canary (local base paths). Returns the labels written."""
  config = read(serving_dir)
  entry = _model_entry(config, serving_dir, model_name)
  if stable is None:
    pinned = list(entry.model_version_policy.specific.versions)
    older = [v for v in _pushed_on_disk(entry) if v < canary]
    stable = (entry.version_labels.get(STABLE) or (pinned[0] if len(pinned) == 1 else None)
              or (max(older) if older else None))
  if stable is None:
    raise LookupError(f'no stable version to keep beside canary {canary}: nothing older is '
                      'pushed or labelled; pass --stable VERSION')
  if stable == canary:
    raise ValueError(f'version {canary} is already the stable one; roll out a newer version')
  for version in (stable, canary):
    _check_pushed(entry, version)
  # TF Serving refuses a config that moves an existing label onto a version it has not
  # loaded yet (even with --allow_version_labels_for_unavailable_models), and drops the
  # whole reload: one rollout at a time.
  for label, version in ((CANARY, canary), (STABLE, stable)):
    current = entry.version_labels.get(label)
    if current is not None and current != version:
      raise ValueError(f'the {label!r} label is on version {current}: TF Serving will not move '
                       f'it to {version} before {version} is loaded. Finish that rollout '
                       'first (`forge promote CONFIG` or `forge rollback CONFIG --to '
                       f'{entry.version_labels.get(STABLE, current)}`), then roll out {version}.')
  _serve(entry, [stable, canary], {STABLE: stable, CANARY: canary})
  write(serving_dir, config)
  return dict(entry.version_labels)


def promote(serving_dir: str, model_name: str) -> int:
  """The canary becomes the one stable version served; returns it."""
  config = read(serving_dir)
  entry = _model_entry(config, serving_dir, model_name)
  if CANARY not in entry.version_labels:
    raise LookupError(f'{posixpath.join(serving_dir, FILE_NAME)}: {model_name} has no canary '
                      'version to promote; start one with `forge rollout CONFIG --canary '
                      'VERSION`')
  canary = entry.version_labels[CANARY]
  _serve(entry, [canary], {STABLE: canary})
  write(serving_dir, config)
  return canary


def served_versions(serving_dir: str, model_name: str, on_disk: Iterable[int]) -> Set[int]:
  """The versions TF Serving loads by models.config's policy: the pinned one, or the newest
  `num_versions` of those on disk (KEEP_VERSIONS when the model is not listed yet)."""
  entry = _entry(read(serving_dir), model_name)
  policy = entry.model_version_policy if entry is not None else None
  if policy is not None and policy.HasField('specific'):
    return set(policy.specific.versions)
  keep = policy.latest.num_versions if policy is not None else KEEP_VERSIONS
  return set(sorted(on_disk)[-keep:])
