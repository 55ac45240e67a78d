"""Training on this CPU-only machine: a seeded run repeats itself; at scale, mirrored over
logical CPUs, two workers on localhost, a TPU that is not there, and a Trainer killed mid-run
that resumes."""
import json
import os
import signal
import socket
import subprocess
import sys

import pytest

from base.settings import StrategySection
from models.common import strategy
from pipeline.summary import open_store
from tests.conftest import PROJECT_DIR

WORKER = [sys.executable, '-m', 'models.common.worker', '--family', 'penguin']


@pytest.fixture(scope='module')
def transform_outputs(penguin_runs):
  """URIs of the penguin run's Transform outputs, which the workers train on."""
  store = open_store(penguin_runs[0].config.metadata_path)
  uris = {}
  for artifact in store.get_artifacts():
    key = artifact.uri.rstrip('/').split('/')[-2]
    if key in ('transformed_examples', 'transform_graph'):
      uris[key] = artifact.uri
  return uris


def _worker(transform_outputs, output, config, env=None, steps=200, **popen):
  command = WORKER + ['--transformed-examples', transform_outputs['transformed_examples'],
                      '--transform-graph', transform_outputs['transform_graph'],
                      '--output', str(output), '--train-steps', str(steps),
                      '--config', json.dumps(config)]
  return subprocess.Popen(command, cwd=PROJECT_DIR, env={**os.environ, **(env or {})},
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen)


def _finish(process, timeout=300):
  output, _ = process.communicate(timeout=timeout)
  assert process.returncode == 0, output
  return output


def _history(output):
  return json.loads((output / 'model_run' / 'history.json').read_text())


def test_mirrored_over_two_logical_cpus_matches_one_device(transform_outputs, tmp_path):
  single = _worker(transform_outputs, tmp_path / 'single', {'epochs': 4})
  mirrored = _worker(transform_outputs, tmp_path / 'mirrored', {'epochs': 4, 'strategy': {
      'kind': 'mirrored', 'devices': ['/cpu:0', '/cpu:1'], 'logical_cpus': 2}})
  _finish(single)
  output = _finish(mirrored)
  assert 'strategy: mirrored with 2 replica(s)' in output
  assert _history(tmp_path / 'mirrored')['replicas'] == 2
  single_accuracy = _history(tmp_path / 'single')['epochs']['val_accuracy'][-1]
  mirrored_accuracy = _history(tmp_path / 'mirrored')['epochs']['val_accuracy'][-1]
  assert abs(single_accuracy - mirrored_accuracy) <= 0.02
  assert (tmp_path / 'mirrored' / 'Format-Serving' / 'saved_model.pb').is_file()


def test_the_same_seed_trains_the_same_model(transform_outputs, tmp_path):
  """training.seed (default 0) fixes initialization, dropout and batch order: two runs of one
  config have the same per-epoch losses to the last digit; another seed trains another
  model."""
  runs = {'first': {'epochs': 2}, 'again': {'epochs': 2}, 'seed 1': {'epochs': 2, 'seed': 1}}
  workers = {name: _worker(transform_outputs, tmp_path / name.replace(' ', ''), config,
                           steps=40) for name, config in runs.items()}
  losses = {}
  for name, worker in workers.items():
    _finish(worker)
    losses[name] = _history(tmp_path / name.replace(' ', ''))['epochs']['loss']
  assert losses['first'] == losses['again'], losses
  assert losses['first'] != losses['seed 1'], losses


def _free_ports(count):
  sockets = [socket.socket() for _ in range(count)]
  for s in sockets:
    s.bind(('127.0.0.1', 0))
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


def test_multi_worker_mirrored_runs_two_workers_and_the_chief_writes(transform_outputs,
                                                                       tmp_path):
  cluster = {'worker': [f'localhost:{port}' for port in _free_ports(2)]}
  config = {'epochs': 2, 'strategy': {'kind': 'multi_worker_mirrored'}}
  workers = [
      _worker(transform_outputs, tmp_path / f'worker{index}', config, steps=40, env={
          'TF_CONFIG': json.dumps({'cluster': cluster, 'task': {'type': 'worker',
                                                                'index': index}})})
      for index in range(2)]
  outputs = [_finish(worker) for worker in workers]
  assert all('strategy: multi_worker_mirrored with 2 replica(s)' in o for o in outputs), outputs
  assert (tmp_path / 'worker0' / 'Format-Serving' / 'saved_model.pb').is_file()
  assert not (tmp_path / 'worker1' / 'Format-Serving').exists()


def test_unreachable_tpu_fails_fast_naming_the_address(monkeypatch):
  """The connection probe refuses it (its message), before TensorFlow's TPU resolver, which
  waits a long time on an unreachable worker, is started."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  def resolver_started(*args, **kwargs):
    raise AssertionError("TensorFlow's TPU resolver started for an unreachable address")
  monkeypatch.setattr(tf.distribute.cluster_resolver, 'TPUClusterResolver', resolver_started)
  port = _free_ports(1)[0]  # nothing listens there
  with pytest.raises(strategy.StrategyError,
                     match=f'no TPU reachable at grpc://127.0.0.1:{port} '
                           r'\(training.strategy.tpu\)'):
    strategy.build(StrategySection(kind='tpu', tpu=f'grpc://127.0.0.1:{port}'))


def test_mixed_float16_is_refused_on_cpu():
  with pytest.raises(strategy.StrategyError, match='needs a GPU'):
    strategy.set_mixed_precision('mixed_float16', 'default')


def test_killed_training_resumes_from_its_last_epoch(transform_outputs, tmp_path):
  config = {'epochs': 20}
  first = _worker(transform_outputs, tmp_path, config, steps=4000, start_new_session=True)
  for line in first.stdout:
    if 'Trainer epoch 2/20' in line:
      os.killpg(first.pid, signal.SIGKILL)
      break
  first.wait(timeout=60)
  assert first.returncode == -signal.SIGKILL
  resumed = _worker(transform_outputs, tmp_path, {**config, 'epochs': 20}, steps=4000)
  for line in resumed.stdout:
    if 'resumed from its checkpoint at epoch' in line:
      epoch = int(line.split('epoch ')[1].split('/')[0])
      resumed.kill()
      break
  else:
    pytest.fail('the second run did not resume from a checkpoint')
  resumed.wait(timeout=60)
  assert epoch >= 2  # it did not start again from epoch 1
