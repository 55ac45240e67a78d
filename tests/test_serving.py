"""What TF Serving and its clients rely on: both serving signatures, warm-up requests, the
pre-push serving check, atomic versions with models.config and rollback, `forge predict`."""
import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from components.common.examples import examples_artifact, raw_columns
from components.common.saved_model import signature_inputs
from components.serving_pusher import check, executor, model_config, warmup
from models.common.family import load_family
from pipeline import cli, datasets
from pipeline.summary import open_store
from tests.conftest import across_classes, pushed_version_dirs
from tests.serving_double import ServingDouble


def _eval_examples(run, count=32):
  store = open_store(run.config.metadata_path)
  # ExampleGen's output (<root>/<node>/examples/<id>), not Transform's transformed_examples.
  examples_uri = max((a for a in store.get_artifacts_by_type('Examples')
                      if a.uri.split('/')[-2] == 'examples'), key=lambda a: a.id).uri
  family = load_family(run.config.model.family)
  return warmup.eval_examples(examples_artifact(examples_uri), family.label_key, count)


def _run(request, name):
  """The session run of one pipeline, started only when a test needs that one."""
  fixture = {'penguin': 'penguin_runs', 'taxi': 'taxi_run', 'digits': 'digits_runs',
             'text': 'text_run'}[name]
  run = request.getfixturevalue(fixture)
  return {'penguin_runs': lambda: run[0], 'digits_runs': lambda: run.first}.get(
      fixture, lambda: run)()


@pytest.fixture(scope='module', params=['penguin', 'taxi', 'digits', 'text'])
def pushed(request):
  run = _run(request, request.param)
  model_dir = pushed_version_dirs(run)[-1]  # test_each_run_blessed_and_pushed: the outcome
  return run, model_dir, tf.saved_model.load(str(model_dir))


@pytest.mark.parametrize('name', ['penguin', 'taxi', 'digits', 'text'])
def test_each_run_blessed_and_pushed(name, request):
  run = _run(request, name)
  assert 'Blessed. Pushed to' in run.output, run.output


def test_both_serving_signatures_agree_on_eval_rows(pushed):
  run, _, loaded = pushed
  examples = _eval_examples(run)
  by_example = loaded.signatures['serving_default'](examples=tf.constant(examples))
  raw = loaded.signatures['serving_raw']
  columns = raw_columns(examples, raw.structured_input_signature[1])
  by_feature = raw(**{name: tf.constant(values) for name, values in columns.items()})
  np.testing.assert_allclose(by_example['probabilities'].numpy(),
                             by_feature['probabilities'].numpy(), atol=1e-5)
  family = load_family(run.config.model.family)
  names = by_example['class_names'].numpy()[0]
  assert [n.decode() for n in names] == list(family.class_names)
  assert set(by_example['predicted_class'].numpy()) <= set(names)


def test_warmup_reads_the_raw_inputs_the_loaded_model_declares(pushed):
  _, model_dir, loaded = pushed
  declared = loaded.signatures['serving_raw'].structured_input_signature[1]
  read = signature_inputs(str(model_dir), 'serving_raw')
  assert {name: (spec.dtype, spec.shape.as_list()) for name, spec in read.items()} == {
      name: (spec.dtype, spec.shape.as_list()) for name, spec in declared.items()}


def test_rest_json_row_round_trips_through_the_raw_signature(pushed):
  run, _, loaded = pushed
  raw = loaded.signatures['serving_raw']
  specs = raw.structured_input_signature[1]
  example = _eval_examples(run, 1)
  columns = raw_columns(example, specs)
  body = json.dumps({'signature_name': 'serving_raw', 'instances': [
      {name: (values[0].decode() if isinstance(values[0], bytes) else values[0].tolist())
       for name, values in columns.items()}]})
  instance = json.loads(body)['instances'][0]
  outputs = raw(**{name: tf.constant([value], dtype=specs[name].dtype)
                   for name, value in instance.items()})
  expected = loaded.signatures['serving_default'](examples=tf.constant(example))
  np.testing.assert_allclose(outputs['probabilities'].numpy(),
                             expected['probabilities'].numpy(), atol=1e-5)


def test_warmup_file_holds_prediction_logs_that_run(pushed):
  _, model_dir, _ = pushed
  logs = warmup.read(str(model_dir))
  assert {log.predict_log.request.model_spec.signature_name for log in logs} == {
      'serving_default', 'serving_raw'}
  assert 'answered' in check.check_model(str(model_dir))


def test_the_check_process_started_early_serves_one_check_in_a_clean_process(pushed):
  """The local runner starts the check's process with the run, so its TensorFlow import
  overlaps the pipeline; it must still be a process without TensorFlow Transform, TFX or
  Beam loaded (as TF Serving has none of them), and serve one check only."""
  _, model_dir, _ = pushed
  early = check.Prestarted()
  assert os.environ[check.PRESTARTED] == early.address
  assert 'answered' in check.check_in_subprocess(str(model_dir))
  assert early.process.wait(timeout=30) == 0  # it served that check and ended
  assert check.PRESTARTED not in os.environ  # the next check starts its own process
  early.close()
  probe = subprocess.run(
      [sys.executable, '-c', 'import sys; from components.serving_pusher import check; '
       'print(sorted(m for m in ("tensorflow_transform", "tfx", "apache_beam") '
       'if m in sys.modules))'], capture_output=True, text=True, check=True)
  assert probe.stdout.strip() == '[]'
  unused = check.Prestarted()
  unused.close()
  assert unused.process.poll() is not None and check.PRESTARTED not in os.environ
  assert 'answered' in check.check_in_subprocess(str(model_dir))  # a process of its own


class _BrokenModel(tf.Module):
  """Its serving signature requires a feature that real examples do not have."""

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name='examples')])
  def serve(self, examples):
    parsed = tf.io.parse_example(examples, {'no_such_feature': tf.io.FixedLenFeature([], tf.float32)})
    return {'probabilities': tf.expand_dims(parsed['no_such_feature'], 1)}

  @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name='x')])
  def serve_raw(self, x):
    return {'probabilities': tf.expand_dims(x, 1)}


def test_a_model_that_cannot_serve_is_not_pushed(penguin_runs, tmp_path):
  run = penguin_runs[0]
  broken = _BrokenModel()
  tf.saved_model.save(broken, str(tmp_path / 'broken'), signatures={
      'serving_default': broken.serve, 'serving_raw': broken.serve_raw})
  serving_dir = tmp_path / 'serving'
  with pytest.raises(check.ServingCheckError, match='serving_default.*no_such_feature'):
    executor.push(str(tmp_path / 'broken'), str(serving_dir), 'penguin', _eval_examples(run),
                  keep_versions=2)
  assert list((serving_dir / 'penguin').iterdir()) == []  # no version, no staging left


@pytest.mark.parametrize('name', ['../escaped', 'a/../../b', '/tmp/x', '..'])
def test_pushers_refuse_a_model_name_that_leads_out_of_their_directory(tmp_path, name):
  """The config refuses such names; the pushers do too, for specs compiled elsewhere."""
  from components.mobile_pusher import executor as mobile_executor
  with pytest.raises(ValueError, match='not a safe directory name'):
    executor.push(str(tmp_path), str(tmp_path / 'serving'), name, [], keep_versions=2)
  with pytest.raises(ValueError, match='not a safe directory name'):
    mobile_executor.push(b'', {}, 'int8', str(tmp_path / 'mobile'), name)
  assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_versions_models_config_rollback_and_interrupted_push(penguin_runs, tmp_path,
                                                              monkeypatch):
  run = penguin_runs[0]
  model_path = str(pushed_version_dirs(run)[-1])
  examples = _eval_examples(run, 8)
  serving_dir = str(tmp_path / 'serving')
  first, _ = executor.push(model_path, serving_dir, 'penguin', examples, keep_versions=2)
  second, _ = executor.push(model_path, serving_dir, 'penguin', examples, keep_versions=2)
  assert int(second.rsplit('/', 1)[1]) > int(first.rsplit('/', 1)[1])
  entry = model_config.read(serving_dir).model_config_list.config[0]
  assert entry.name == 'penguin' and entry.base_path == f'{serving_dir}/penguin'
  assert entry.model_version_policy.latest.num_versions == 2

  older = int(first.rsplit('/', 1)[1])
  model_config.pin(serving_dir, 'penguin', older)
  entry = model_config.read(serving_dir).model_config_list.config[0]
  assert list(entry.model_version_policy.specific.versions) == [older]

  def interrupted(*args, **kwargs):
    raise KeyboardInterrupt('killed before the rename')
  monkeypatch.setattr(tf.io.gfile, 'rename', interrupted)
  with pytest.raises(KeyboardInterrupt):
    executor.push(model_path, serving_dir, 'penguin', examples, keep_versions=2)
  names = sorted(p.name for p in (tmp_path / 'serving' / 'penguin').iterdir())
  assert names == sorted([first.rsplit('/', 1)[1], second.rsplit('/', 1)[1]])


def _csv_of_penguins(path, per_species=3):
  """`per_species` penguins of each species (the file is sorted by species: its first rows
  are all Adelie, which a model that always answers Adelie gets right)."""
  source = datasets.resolve('penguins', None, 'csv', path.parent / 'data')
  with open(source.input_base / source.pattern, newline='') as f:
    reader = csv.DictReader(f)
    rows = across_classes(reader, lambda row: row['species'], per_species)
    fields = reader.fieldnames
  with open(path, 'w', newline='') as out:
    writer = csv.DictWriter(out, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
  return rows


@pytest.mark.parametrize('transport, signature', [
    ('--grpc', 'serving_default'), ('--grpc', 'serving_raw'),
    ('--rest', 'serving_default'), ('--rest', 'serving_raw')])
def test_forge_predict_against_a_stand_in_server(penguin_runs, tmp_path, capsys, transport,
                                                 signature):
  run = penguin_runs[0]
  rows = _csv_of_penguins(tmp_path / 'rows.csv')
  config_path = tmp_path / 'penguin.yaml'
  config_path.write_text(json.dumps(run.config.model_dump(mode='json', by_alias=True)))
  with ServingDouble(pushed_version_dirs(run)[-1], 'penguin') as server:
    address = server.grpc_address if transport == '--grpc' else server.rest_url
    assert cli.main(['predict', str(config_path), str(tmp_path / 'rows.csv'), transport,
                     address, '--signature', signature]) == 0
  printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
  assert len(printed) == len(rows)
  assert cli.main(['predict', str(config_path), str(tmp_path / 'rows.csv')]) == 0  # no server
  here = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
  assert [p['predicted_class'] for p in printed] == [p['predicted_class'] for p in here]
  species = [r['species'] for r in rows]
  assert sorted(set(species)) == ['Adelie', 'Chinstrap', 'Gentoo']
  right = sum(p['predicted_class'] == s for p, s in zip(printed, species))
  assert right >= len(rows) - 1, (printed, species)  # a constant answer gets 3 of 9
  for prediction in printed:
    assert abs(sum(prediction['probabilities']) - 1) < 1e-5
