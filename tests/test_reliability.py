"""A run killed mid-way resumes from the cache and checkpoints without leaving half-written
results behind, and a worse model is never pushed."""
from pipeline import env  # noqa: F401  (before TensorFlow)

import csv
import os
import random
import signal
import subprocess

import pytest
from ml_metadata.proto import metadata_store_pb2
from tensorflow_model_analysis.proto import validation_result_pb2

from pipeline import datasets
from pipeline.summary import describe_failure, open_store, read_latest_run
from tests.conftest import FORGE, PROJECT_DIR, forge_run, pushed_version_dirs, write_config


def _run_until(config_path, marker: str) -> str:
  """Starts `forge run` and SIGKILLs it (and anything it started) once `marker` is printed."""
  process = subprocess.Popen(
      FORGE + ['run', str(config_path)], cwd=PROJECT_DIR, stdout=subprocess.PIPE,
      stderr=subprocess.STDOUT, text=True, start_new_session=True,
      env={**os.environ, 'PYTHONUNBUFFERED': '1'})
  seen = []
  for line in process.stdout:
    seen.append(line)
    if marker in line:
      os.killpg(process.pid, signal.SIGKILL)
      break
  process.wait(timeout=600)
  output = ''.join(seen)
  assert marker in output, output
  assert process.returncode == -signal.SIGKILL
  return output


def _config(tmp_path):
  return write_config(tmp_path / 'penguin.yaml', 'penguin',
                      pipeline={'root': str(tmp_path / 'root')},
                      outputs={'serving_dir': str(tmp_path / 'serving')})


def test_killed_during_transform_and_trainer_the_run_resumes(tmp_path):
  config = _config(tmp_path)
  _run_until(config, '> Transform ...')
  killed_in_trainer = _run_until(config, 'Trainer epoch 3/10')
  assert 'CsvExampleGen done in 0.0 s (cached)' in killed_in_trainer
  assert 'Transform done in' in killed_in_trainer  # ran again: it was killed last time
  final = forge_run(config)
  assert final.returncode == 0, final.output
  assert 'Transform done in 0.0 s (cached)' in final.output
  assert 'Trainer resumed from its checkpoint at epoch' in final.output
  assert 'Blessed. Pushed to' in final.output
  (version,) = pushed_version_dirs(final)
  model_dir = tmp_path / 'serving' / 'penguin'
  assert [p.name for p in model_dir.iterdir() if p.name.startswith('.')] == []
  assert (version / 'saved_model.pb').is_file()
  # Artifacts of the killed executions were never published: everything a finished
  # execution read is LIVE.
  store = open_store(final.config.metadata_path)
  inputs = [e.artifact_id for e in store.get_events_by_execution_ids(
      [e.id for e in store.get_executions()]) if e.type == metadata_store_pb2.Event.INPUT]
  assert {a.state for a in store.get_artifacts_by_id(inputs)} == {
      metadata_store_pb2.Artifact.LIVE}


def test_a_model_trained_on_shuffled_labels_is_not_pushed(tmp_path):
  config = _config(tmp_path)
  baseline = forge_run(config)
  assert baseline.returncode == 0, baseline.output
  (served,) = pushed_version_dirs(baseline)
  source = datasets.resolve('penguins', None, 'csv', tmp_path / 'data')
  with open(source.input_base / source.pattern, newline='') as f:
    rows = list(csv.DictReader(f))
  labels = [row['species'] for row in rows]
  random.Random(0).shuffle(labels)
  shuffled = tmp_path / 'shuffled.csv'
  with open(shuffled, 'w', newline='') as f:
    writer = csv.DictWriter(f, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows({**row, 'species': label} for row, label in zip(rows, labels))
  regression = forge_run(config, '--data-path', str(shuffled))
  assert regression.returncode == 4, regression.output
  assert 'NOT blessed, nothing pushed. Failed gates:' in regression.output
  failed = regression.output.split('Failed gates:')[1]
  # Both models are scored on the new (shuffled) eval rows, so the baseline scores as badly
  # and the change threshold holds; the value threshold is the one that fails, by how much.
  assert 'accuracy: 0.' in failed and 'below the minimum 0.9000' in failed
  assert pushed_version_dirs(regression) == [served]
  assert read_latest_run(regression.config.metadata_path).blessed is False


def test_a_failed_change_threshold_says_by_how_much():
  failure = validation_result_pb2.ValidationFailure()
  failure.metric_key.name = 'binary_accuracy'
  failure.metric_key.is_diff = True
  failure.metric_value.double_value.value = -0.05
  failure.metric_threshold.change_threshold.absolute.value = -0.02
  assert describe_failure(failure) == (
      'binary_accuracy: -0.0500 against the last blessed model, a larger drop than the '
      '0.0200 allowed (max_drop)')
