"""A run killed mid-way resumes from the cache and checkpoints without leaving half-written
results behind, and a worse model is never pushed."""
from base import env  # noqa: F401  (before TensorFlow)

import csv
import os
import random
import re
import signal
import subprocess

import pytest
from ml_metadata.proto import metadata_store_pb2
from tensorflow_model_analysis.proto import validation_result_pb2

from pipeline import datasets
from components.common.evaluation import describe_failure
from pipeline.summary import open_store, read_latest_run
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


def _cached(component: str, output: str) -> bool:
  """The run took `component` from the cache (however long the lookup took)."""
  return re.search(rf'\b{component} done in \d+\.\d s \(cached\)', output) is not None


def _config(work, name='penguin.yaml', **sections):
  return write_config(work / name, 'penguin', pipeline={'root': str(work / 'root')},
                      outputs={'serving_dir': str(work / 'serving')}, **sections)


def test_killed_during_transform_and_trainer_the_run_resumes(tmp_path):
  config = _config(tmp_path)
  _run_until(config, '> Transform ...')
  killed_in_trainer = _run_until(config, 'Trainer epoch 3/10')
  assert _cached('CsvExampleGen', killed_in_trainer)
  assert 'Transform done in' in killed_in_trainer  # ran again: it was killed last time
  final = forge_run(config)
  assert final.returncode == 0, final.output
  assert _cached('Transform', final.output)
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


@pytest.fixture(scope='module')
def blessed_penguin(tmp_path_factory):
  """A penguin pipeline root whose first run was blessed and pushed: (config, first run)."""
  work = tmp_path_factory.mktemp('blessed_penguin')
  config = _config(work)
  return config, forge_run(config)  # the tests check its exit first


def _penguins_changed(path, change) -> str:
  """The built-in penguin CSV with `change(rows)` applied, written to `path`."""
  source = datasets.resolve('penguins', None, 'csv', path.parent / 'data')
  with open(source.input_base / source.pattern, newline='') as f:
    rows = list(csv.DictReader(f))
  change(rows)
  with open(path, 'w', newline='') as f:
    writer = csv.DictWriter(f, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
  return str(path)


def _shuffle_labels(rows):
  labels = [row['species'] for row in rows]
  random.Random(0).shuffle(labels)
  for row, label in zip(rows, labels):
    row['species'] = label


def _heavier_birds(rows):
  for row in rows:
    if row['body_mass_g']:
      row['body_mass_g'] = str(int(row['body_mass_g']) + 1500)


def test_a_model_trained_on_shuffled_labels_is_not_pushed(blessed_penguin):
  config, baseline = blessed_penguin
  assert baseline.returncode == 0, baseline.output
  (served,) = pushed_version_dirs(baseline)
  shuffled = _penguins_changed(config.parent / 'shuffled.csv', _shuffle_labels)
  regression = forge_run(config, '--data-path', shuffled)
  assert regression.returncode == 4, regression.output
  assert 'NOT blessed, nothing pushed. Failed gates:' in regression.output
  failed = regression.output.split('Failed gates:')[1]
  # Both models are scored on the new (shuffled) eval rows, so the baseline scores as badly
  # and the change threshold holds; the value threshold is the one that fails, by how much.
  assert 'accuracy: 0.' in failed and 'below the minimum 0.9000' in failed
  assert pushed_version_dirs(regression) == [served]
  summary = read_latest_run(regression.config.metadata_path)
  assert summary.blessed is False
  # The features did not move: compared with the first run's data, every distance is ~0.
  assert set(summary.drift) >= {'body_mass_g', 'island', 'bill_length_mm'}
  assert all(distance < 0.05 for distance, _ in summary.drift.values()), summary.drift
  assert 'Drift against the data accepted last: 7 columns compared' in regression.output


def test_drifted_data_stops_until_it_is_accepted(blessed_penguin):
  config, baseline = blessed_penguin
  assert baseline.returncode == 0, baseline.output
  served = pushed_version_dirs(baseline)
  heavier = _penguins_changed(config.parent / 'heavier.csv', _heavier_birds)
  drifted = forge_run(config, '--data-path', heavier)
  assert drifted.returncode == 3, drifted.output
  assert f'Data drift in {heavier}' in drifted.output
  (line,) = [line for line in drifted.output.splitlines() if line.startswith('  column ')]
  assert line.startswith("  column 'body_mass_g': The approximate Jensen-Shannon divergence")
  assert 'above the threshold 0.25' in line
  assert 'drift_comparator thresholds in' in drifted.output
  assert 'nothing was trained or pushed' in drifted.output
  assert pushed_version_dirs(drifted) == served
  # The user accepts the new data once; after that it is the baseline and passes.
  accept = _config(config.parent, 'accept.yaml', data={'check_drift': False})
  accepted = forge_run(accept, '--data-path', heavier)
  assert 'DataValidationGate done' in accepted.output, accepted.output
  again = forge_run(config, '--data-path', heavier)
  assert accepted.returncode == 0, accepted.output
  assert again.returncode == 0, again.output
  assert 'Data drift' not in again.output
  assert 'DataValidationGate done' in again.output
  assert _cached('Trainer', again.output)


def test_a_failed_change_threshold_says_by_how_much():
  failure = validation_result_pb2.ValidationFailure()
  failure.metric_key.name = 'binary_accuracy'
  failure.metric_key.is_diff = True
  failure.metric_value.double_value.value = -0.05
  failure.metric_threshold.change_threshold.absolute.value = -0.02
  assert describe_failure(failure) == (
      'binary_accuracy: -0.0500 against the last blessed model, a larger drop than the '
      '0.0200 allowed (max_drop)')
