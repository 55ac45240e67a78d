"""The tf.distribute strategy a Trainer runs under, from the config's training.strategy.

Every family's run_fn builds its model, optimizer and metrics inside the strategy's scope
(see training.py); the global batch is the per-replica batch times the replicas.
"""
from __future__ import annotations

import json
import os
import socket
from urllib.parse import urlparse

import tensorflow as tf

from base.settings import STRATEGY_KINDS, StrategySection

TPU_CONNECT_TIMEOUT_SECONDS = 10


class StrategyError(RuntimeError):
  """The configured strategy cannot run here; the message names the setting."""


def _tpu(address: str) -> tf.distribute.Strategy:
  if not address:
    raise StrategyError('training.strategy.tpu is empty: set a TPU name or grpc://host:8470')
  if address.startswith('grpc://'):
    # TensorFlow waits a long time on an unreachable TPU worker; fail fast instead.
    target = urlparse(address)
    try:
      socket.create_connection((target.hostname, target.port or 8470),
                               timeout=TPU_CONNECT_TIMEOUT_SECONDS).close()
    except OSError as err:
      raise StrategyError(f'no TPU reachable at {address} (training.strategy.tpu): {err}') from err
  try:
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=address)
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
  except Exception as err:  # pylint: disable=broad-except
    raise StrategyError(f'could not start the TPU at {address} (training.strategy.tpu): '
                        f'{err}') from err
  return tf.distribute.TPUStrategy(resolver)


def build(settings: StrategySection) -> tf.distribute.Strategy:
  """The strategy training.strategy names."""
  kind = settings.kind
  if kind == 'auto':
    kind = 'mirrored' if len(tf.config.list_logical_devices('GPU')) > 1 else 'default'
  if kind == 'default':
    return tf.distribute.get_strategy()
  if kind == 'mirrored':
    return tf.distribute.MirroredStrategy(devices=settings.devices or None)
  if kind == 'multi_worker_mirrored':
    if 'TF_CONFIG' not in os.environ:
      raise StrategyError('training.strategy.kind multi_worker_mirrored needs TF_CONFIG '
                          '(cluster and task) in every worker\'s environment')
    return tf.distribute.MultiWorkerMirroredStrategy()
  if kind == 'tpu':
    return _tpu(settings.tpu or '')
  raise StrategyError(f'training.strategy.kind {kind!r}: use one of {", ".join(STRATEGY_KINDS)}')


def is_chief() -> bool:
  """The worker that writes the model (every worker must still call save)."""
  tf_config = json.loads(os.environ.get('TF_CONFIG', '{}'))
  task = tf_config.get('task', {})
  if task.get('type', 'chief') == 'chief':
    return True
  # Without a chief in the cluster, worker 0 plays its part.
  return (task['type'] == 'worker' and task.get('index', 0) == 0
          and 'chief' not in tf_config.get('cluster', {}))


def describe(strategy: tf.distribute.Strategy) -> str:
  """e.g. 'mirrored with 2 replica(s)', in the config's words."""
  kinds = ((tf.distribute.MultiWorkerMirroredStrategy, 'multi_worker_mirrored'),
           (tf.distribute.MirroredStrategy, 'mirrored'), (tf.distribute.TPUStrategy, 'tpu'))
  kind = next((name for cls, name in kinds if isinstance(strategy, cls)), 'default')
  return f'{kind} with {strategy.num_replicas_in_sync} replica(s)'


def set_mixed_precision(policy: str, strategy_kind: str) -> None:
  """'none', 'mixed_float16' (GPUs) or 'mixed_bfloat16' (TPUs); refused where it only slows."""
  if policy == 'none':
    return
  if policy == 'mixed_float16' and not tf.config.list_physical_devices('GPU'):
    raise StrategyError('training.mixed_precision mixed_float16 needs a GPU and none is '
                        'visible; set it to none on CPU')
  if policy == 'mixed_bfloat16' and strategy_kind != 'tpu':
    raise StrategyError('training.mixed_precision mixed_bfloat16 is for TPUs '
                        '(training.strategy.kind tpu); set it to none on CPU')
  tf.keras.mixed_precision.set_global_policy(policy)
