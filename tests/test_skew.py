"""Skew between served requests and the training data (`forge skew`), on the shared penguin
run: eval rows replayed as REST requests show none; the same rows with one column shifted
name that column and its distance (exit 3); `forge predict --log` against the stand-in TF
Serving writes PredictionLog records that `forge skew` reads, as it reads the warm-up file."""
import csv
import json
import re

import pytest
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from components.common.examples import examples_artifact, iter_examples, without_label
from components.serving_pusher import warmup
from pipeline import cli
from pipeline.cli.common import EXIT_DATA, EXIT_OK
from pipeline.summary import open_store
from tests.conftest import pushed_version_dirs
from tests.serving_double import ServingDouble

SHIFTED = 'body_mass_g'


def _row(serialized: bytes) -> dict:
  """A tf.Example as a REST instance: one value per feature, None when missing."""
  row = {}
  for name, feature in tf.train.Example.FromString(serialized).features.feature.items():
    kind = feature.WhichOneof('kind')
    values = list(getattr(feature, kind).value) if kind else []
    value = values[0] if values else None
    row[name] = value.decode() if isinstance(value, bytes) else value
  return row


@pytest.fixture(scope='module')
def eval_rows(penguin_runs):
  run = penguin_runs[0]
  store = open_store(run.config.metadata_path)
  uri = max((a for a in store.get_artifacts_by_type('Examples')
             if a.uri.split('/')[-2] == 'examples'), key=lambda a: a.id).uri
  return [_row(without_label(e, 'species')) for e in iter_examples(examples_artifact(uri), 'eval')]


def _json_lines(path, rows, per_request=10):
  path.write_text('\n'.join(json.dumps({'instances': rows[i:i + per_request]})
                            for i in range(0, len(rows), per_request)) + '\n')
  return path


def test_replaying_eval_rows_reports_no_skew(penguin_runs, eval_rows, tmp_path, capsys):
  run = penguin_runs[0]
  requests = _json_lines(tmp_path / 'requests.jsonl', eval_rows)
  assert cli.main(['skew', str(run.config_path), '--requests', str(requests)]) == EXIT_OK
  out = capsys.readouterr().out
  assert f'{len(eval_rows)} requests from {requests}' in out
  assert '6 columns compared' in out and 'No skew; largest' in out, out
  assert 'Skewed' not in out and 'drift_comparator thresholds were used' not in out
  page = re.search(r'Page: (\S+)', out).group(1)
  html = open(page, encoding='utf-8').read()
  assert 'No skew' in html and SHIFTED in html and 'http' not in html.replace(
      'http-equiv', '')


def test_one_shifted_column_is_named_with_its_distance(penguin_runs, eval_rows, tmp_path,
                                                       capsys):
  run = penguin_runs[0]
  shifted = [dict(row, **{SHIFTED: row[SHIFTED] + 1500}) if row.get(SHIFTED) is not None
             else row for row in eval_rows]
  requests = _json_lines(tmp_path / 'shifted.jsonl', shifted)
  assert cli.main(['skew', str(run.config_path), '--requests', str(requests)]) == EXIT_DATA
  out = capsys.readouterr().out
  skewed = re.findall(r"Skewed: column '(\w+)': Jensen-Shannon divergence ([\d.]+) between "
                      r'training and serving, above the threshold 0.25', out)
  assert [name for name, _ in skewed] == [SHIFTED], out
  assert float(skewed[0][1]) > 0.25
  html = open(re.search(r'Page: (\S+)', out).group(1), encoding='utf-8').read()
  assert 'Skew found' in html and 'skewed' in html


def _csv(path, rows):
  with open(path, 'w', newline='') as out:
    writer = csv.DictWriter(out, fieldnames=sorted(rows[0]))
    writer.writeheader()
    writer.writerows({k: '' if v is None else v for k, v in row.items()} for row in rows)
  return path


def test_predict_log_against_the_stand_in_server_is_read_by_skew(penguin_runs, eval_rows,
                                                                 tmp_path, capsys):
  run = penguin_runs[0]
  rows_csv = _csv(tmp_path / 'rows.csv', eval_rows)
  log_dir = tmp_path / 'log'
  with ServingDouble(pushed_version_dirs(run)[-1], 'penguin') as server:
    for transport, address, signature in (('--grpc', server.grpc_address, 'serving_default'),
                                          ('--rest', server.rest_url, 'serving_raw')):
      assert cli.main(['predict', str(run.config_path), str(rows_csv), transport, address,
                       '--signature', signature, '--log', str(log_dir)]) == EXIT_OK
  capsys.readouterr()
  logs = sorted(log_dir.iterdir())
  assert len(logs) == 2
  signatures = []
  for path in logs:
    (record,) = list(tf.data.TFRecordDataset(str(path)))
    log = prediction_log_pb2.PredictionLog.FromString(record.numpy()).predict_log
    assert log.request.model_spec.name == 'penguin'
    signatures.append(log.request.model_spec.signature_name)
    classes = tf.make_ndarray(log.response.outputs['predicted_class'])
    assert len(classes) == len(eval_rows)
    assert {c.decode() for c in classes} <= {'Adelie', 'Chinstrap', 'Gentoo'}
  assert sorted(signatures) == ['serving_default', 'serving_raw']
  assert cli.main(['skew', str(run.config_path), '--requests', str(log_dir)]) == EXIT_OK
  assert f'{2 * len(eval_rows)} requests from {log_dir}' in capsys.readouterr().out
  # The warm-up file is the same format: its rows are read too (both signatures).
  warmup_file = pushed_version_dirs(run)[-1] / warmup.WARMUP_FILE
  assert cli.main(['skew', str(run.config_path), '--requests', str(warmup_file)]) in (
      EXIT_OK, EXIT_DATA)
  assert re.search(r'^\d+ requests from ', capsys.readouterr().out, re.M)


def test_requests_that_cannot_be_read_are_refused_naming_the_file(penguin_runs, tmp_path,
                                                                  capsys):
  run = penguin_runs[0]
  bad = tmp_path / 'bad.jsonl'
  bad.write_text('{"instances": [1, 2]}\n')
  assert cli.main(['skew', str(run.config_path), '--requests', str(bad)]) == 1
  assert f'{bad}: line 1: an instance is int' in capsys.readouterr().err
  assert cli.main(['skew', str(run.config_path), '--requests', str(tmp_path / 'none')]) == 1
  assert 'does not exist' in capsys.readouterr().err


def test_predict_label_canary_reaches_the_labelled_version(penguin_runs, eval_rows, tmp_path,
                                                           capsys):
  """`forge predict --label canary`: ModelSpec.version_label over gRPC, and the
  /v1/models/<name>/labels/canary route over REST."""
  run = penguin_runs[0]
  rows_csv = _csv(tmp_path / 'rows.csv', eval_rows[:5])
  model_dir = pushed_version_dirs(run)[-1]
  with ServingDouble(model_dir, 'penguin', labels={'canary': model_dir}) as server:
    for transport, address in (('--grpc', server.grpc_address), ('--rest', server.rest_url)):
      assert cli.main(['predict', str(run.config_path), str(rows_csv), transport, address,
                       '--signature', 'serving_raw', '--label', 'canary']) == EXIT_OK
    served = list(server.served)
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()
               if line.startswith('{')]
    assert cli.main(['predict', str(run.config_path), str(rows_csv), '--rest',
                     server.rest_url, '--label', 'nightly']) == 1
    assert 'Unrecognized servable version label: nightly' in capsys.readouterr().err
  assert served == [('grpc', 'canary'), ('rest', 'canary')]
  assert len(printed) == 10
  assert cli.main(['predict', str(run.config_path), str(rows_csv), '--label', 'canary']) == 1
  assert '--label names a version label of a running TF Serving' in capsys.readouterr().err
