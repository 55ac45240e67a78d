"""Operating the served model without a pipeline run: TF Serving's monitoring and batching
files, the Prometheus scrape config and alerting rules (checked and unit-tested by promtool,
Debian's `prometheus` package), the Grafana dashboard's metric names, the manifests that
carry them, and models.config version labels for a canary rollout."""
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from google.protobuf import text_format

from kubeflow import monitoring
from kubeflow.serving import REST_PORT, write_manifests
from kubeflow.serving_protos import BatchingParameters, MonitoringConfig
from pipeline.config import ConfigError, load_config
from tests.conftest import PROJECT_DIR, write_config

PROMTOOL = shutil.which('promtool')
# Skipped without promtool here; in CI (.ci/run installs it) a missing promtool fails.
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None and not os.environ.get('CI'),
    reason='promtool is not installed (apt-get install prometheus; .ci/run installs it)')
# TF Serving's .proto files and metric declarations, copied at a known commit (its README).
TF_SERVING = Path(__file__).resolve().parent / 'data' / 'tf_serving'


@pytest.fixture(scope='module')
def config():
  return load_config(PROJECT_DIR / 'configs' / 'penguin.yaml')


@pytest.fixture(scope='module')
def compiled(config, tmp_path_factory):
  """The kustomize base and monitoring files, as `forge compile --target kubeflow` writes."""
  return write_manifests(config, tmp_path_factory.mktemp('compiled') / 'serving')


@pytest.fixture(scope='module')
def local_files(config, tmp_path_factory):
  """`forge serving-files` for a server on localhost."""
  out = tmp_path_factory.mktemp('local')
  monitoring.write_server_files(config, out)
  monitoring.write_monitoring(config, out, targets=['localhost:8501'])
  return out


def _promtool(*args, cwd=None):
  return subprocess.run([PROMTOOL, *map(str, args)], capture_output=True, text=True,
                        timeout=120, cwd=cwd)


# ---- TF Serving's own files

def test_monitoring_and_batching_files_parse_as_tf_serving_protos(compiled, config):
  monitoring_config = text_format.Parse((compiled / 'monitoring.config').read_text(),
                                        MonitoringConfig())
  assert monitoring_config.prometheus_config.enable is True
  assert monitoring_config.prometheus_config.path == config.monitoring.metrics_path
  batching = text_format.Parse((compiled / 'batching.config').read_text(), BatchingParameters())
  assert batching.max_batch_size.value == config.batching.max_batch_size == 64
  assert batching.batch_timeout_micros.value == config.batching.batch_timeout_micros
  assert list(batching.allowed_batch_sizes) == config.batching.allowed_batch_sizes
  assert batching.allowed_batch_sizes[-1] == batching.max_batch_size.value


def test_declared_protos_match_tf_serving_source():
  """Field names and numbers as TF Serving's .proto files declare them."""
  def fields(path, message):
    text = (TF_SERVING / Path(path).name).read_text()
    body = re.search(r'message %s \{(.*?)\n\}' % message, text, re.S).group(1)
    return dict(re.findall(r'^\s*(?:repeated\s+)?[\w.]+\s+(\w+)\s*=\s*(\d+);', body, re.M))
  for path, message, ours in [
      ('tensorflow_serving/config/monitoring_config.proto', 'MonitoringConfig', MonitoringConfig),
      ('tensorflow_serving/servables/tensorflow/session_bundle_config.proto',
       'BatchingParameters', BatchingParameters)]:
    declared = {f.name: str(f.number) for f in ours.DESCRIPTOR.fields}
    assert declared == fields(path, message), message


def test_deployment_runs_the_server_with_the_files_and_scrape_annotations(compiled, config):
  deployment = yaml.safe_load((compiled / 'deployment.yaml').read_text())
  template = deployment['spec']['template']
  (container,) = template['spec']['containers']
  assert '--monitoring_config_file=/config/monitoring.config' in container['args']
  assert '--enable_batching' in container['args']
  assert '--batching_parameters_file=/config/batching.config' in container['args']
  assert template['metadata']['annotations'] == {
      'prometheus.io/scrape': 'true', 'prometheus.io/port': str(REST_PORT),
      'prometheus.io/path': config.monitoring.metrics_path}
  kustomization = yaml.safe_load((compiled / 'kustomization.yaml').read_text())
  (generator,) = kustomization['configMapGenerator']
  assert generator['files'] == ['models.config', 'monitoring.config', 'batching.config']
  assert set(kustomization['resources']) == {'deployment.yaml', 'service.yaml',
                                             'networkpolicy.yaml'}


def test_batching_off_drops_the_flags_and_file(tmp_path):
  path = write_config(tmp_path / 'penguin.yaml', 'penguin', batching={'enabled': False})
  directory = write_manifests(load_config(path), tmp_path / 'serving')
  (container,) = yaml.safe_load((directory / 'deployment.yaml').read_text())[
      'spec']['template']['spec']['containers']
  assert not [arg for arg in container['args'] if 'batching' in arg]
  assert not (directory / 'batching.config').exists()


@pytest.mark.parametrize('section, values, key', [
    ('batching', {'allowed_batch_sizes': [8, 32, 16]}, 'batching.allowed_batch_sizes'),
    ('batching', {'max_batch_size': 128}, 'batching.allowed_batch_sizes'),
    ('monitoring', {'metrics_path': 'metrics'}, 'monitoring.metrics_path'),
    ('monitoring', {'prometheus_namespace': 'Mon'}, 'monitoring.prometheus_namespace'),
])
def test_operating_settings_errors_name_the_key(tmp_path, section, values, key):
  path = write_config(tmp_path / 'penguin.yaml', 'penguin', **{section: values})
  with pytest.raises(ConfigError, match=re.escape(key)):
    load_config(path)


# ---- Prometheus and Grafana

@needs_promtool
def test_promtool_accepts_the_scrape_config_and_rules(local_files, compiled):
  checked = _promtool('check', 'config', local_files / 'prometheus.yml')
  assert checked.returncode == 0, checked.stdout + checked.stderr
  assert '1 rule files found' in checked.stdout
  for directory in (local_files, compiled):
    checked = _promtool('check', 'rules', directory / 'alerts.yml')
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert '6 rules found' in checked.stdout


def test_kubernetes_scrape_config_keeps_the_annotated_serving_pods(compiled, config):
  """Debian's promtool is built without Kubernetes discovery, so this one is read here."""
  scrape = yaml.safe_load((compiled / 'prometheus.yml').read_text())
  (job,) = scrape['scrape_configs']
  assert job['job_name'] == 'penguin-serving'
  assert job['kubernetes_sd_configs'] == [
      {'role': 'pod', 'namespaces': {'names': [config.kubeflow.serving.namespace]}}]
  relabel = {tuple(rule['source_labels']): rule for rule in job['relabel_configs']}
  app = relabel[('__meta_kubernetes_pod_label_app',)]
  deployment = yaml.safe_load((compiled / 'deployment.yaml').read_text())
  assert app['action'] == 'keep'
  assert re.fullmatch(app['regex'], deployment['spec']['template']['metadata']['labels']['app'])
  assert relabel[('__meta_kubernetes_pod_container_port_name',)]['regex'] == 'http'
  assert {'name': 'http', 'containerPort': REST_PORT} in deployment['spec']['template'][
      'spec']['containers'][0]['ports']
  port = relabel[('__address__', '__meta_kubernetes_pod_annotation_prometheus_io_port')]
  address = re.sub(port['regex'].replace('$', r'\$'), port['replacement'].replace('$', '\\'),
                   f'10.0.0.7:8500;{REST_PORT}')
  assert address == f'10.0.0.7:{REST_PORT}'


def _series(name, labels, values):
  return {'series': name + '{' + ','.join(f'{k}="{v}"' for k, v in labels.items()) + '}',
          'values': values}


def _requests(status, values):
  return _series(monitoring.REQUEST_COUNT.name, {'model_name': 'penguin', 'status': status},
                 values)


def _latency(le_values):
  return [_series(f'{monitoring.REQUEST_LATENCY.name}_bucket',
                  {'model_name': 'penguin', 'API': 'Predict', 'entrypoint': 'GRPC', 'le': le},
                  values) for le, values in le_values.items()]


def _loads(status, values, version=7):
  return _series(monitoring.LOAD_ATTEMPTS.name,
                 {'model_path': f'gs://bucket/serving/penguin/{version}', 'status': status},
                 values)


# alert: (synthetic series that must fire it, at this minute)
FIRING = {
    'TFServingDown': ([_series('up', {'job': 'penguin-serving', 'instance': 'a'}, '0x20')], 10),
    'TFServingNoModelVersion': ([_requests('NOT_FOUND', '0+60x20')], 10),
    'TFServingErrorRate': ([_requests('OK', '0+100x20'), _requests('INTERNAL', '0+10x20')], 10),
    'TFServingLatencyP99': (_latency({'100000': '0x20', '500000': '0+100x20',
                                      '+Inf': '0+100x20'}), 10),
    'TFServingVersionLoadFailed': ([_loads('fail', '0x5 1x15')], 10),
    # Answering until minute 40, a version loaded at 41, nothing answered since.
    'TFServingStoppedAfterPush': ([_requests('OK', '0+60x40 2400x30'),
                                   _loads('success', '1x40 2x30', version=8)], 60),
}
# A healthy server: everything answered, fast, one version loaded an hour ago.
HEALTHY = ([_series('up', {'job': 'penguin-serving', 'instance': 'a'}, '1x70'),
            _requests('OK', '0+600x70'), _requests('INTERNAL', '0+1x70'),
            _requests('NOT_FOUND', '0x70'), _loads('success', '1x70'), _loads('fail', '0x70')]
           + _latency({'100000': '0+600x70', '500000': '0+601x70', '+Inf': '0+601x70'}))


@needs_promtool
def test_each_alert_fires_on_its_series_and_stays_quiet_when_healthy(compiled, config):
  rules = yaml.safe_load((compiled / 'alerts.yml').read_text())['groups'][0]['rules']
  by_name = {rule['alert']: rule for rule in rules}
  assert set(by_name) == set(FIRING)
  tests = []
  for alert, (series, minute) in FIRING.items():
    rule = by_name[alert]
    tests.append({'interval': '1m', 'input_series': series, 'alert_rule_test': [
        {'eval_time': f'{minute}m', 'alertname': alert,
         'exp_alerts': [{'exp_labels': rule['labels'],
                         'exp_annotations': rule['annotations']}]}]})
  tests.append({'interval': '1m', 'input_series': HEALTHY, 'alert_rule_test': [
      {'eval_time': f'{minute}m', 'alertname': alert, 'exp_alerts': []}
      for alert in FIRING for minute in (10, 60)]})
  test_file = compiled / 'alerts_test.yml'
  test_file.write_text(yaml.safe_dump({'rule_files': ['alerts.yml'], 'tests': tests}))
  tested = _promtool('test', 'rules', test_file.name, cwd=compiled)
  test_file.unlink()
  assert tested.returncode == 0, tested.stdout + tested.stderr
  assert 'SUCCESS' in tested.stdout
  assert by_name['TFServingLatencyP99']['expr'].endswith(
      f'> {config.monitoring.alerts.p99_latency_ms * 1000:g}')


def _metric_names(expression):
  without_strings = re.sub(r'"[^"]*"', '""', expression)
  without_ranges = re.sub(r'\[[^\]]*\]', '', without_strings)
  functions = {'sum', 'max', 'rate', 'increase', 'histogram_quantile', 'by', 'le', 'offset',
               'and', 'unless', 'or', 'vector'}
  names = set(re.findall(r'[:a-zA-Z_][:a-zA-Z0-9_]*(?=\s*[{(\s]|$)', without_ranges))
  return {name for name in names if name not in functions and name.startswith(':')}


def test_dashboard_and_rules_use_only_metrics_tf_serving_exports(compiled):
  exported = {series for metric in monitoring.METRICS for series in metric.series}
  board = json.loads((compiled / 'grafana-dashboard.json').read_text())
  expressions = [target['expr'] for panel in board['panels'] for target in panel['targets']]
  used = set().union(*map(_metric_names, expressions))
  assert used and used <= exported, used - exported
  titles = ' '.join(panel['title'] for panel in board['panels']).lower()
  for topic in ('requests per second', 'latency', 'failing', 'versions loaded'):
    assert topic in titles
  rules = yaml.safe_load((compiled / 'alerts.yml').read_text())['groups'][0]['rules']
  rule_metrics = set().union(*(_metric_names(rule['expr']) for rule in rules))
  assert rule_metrics <= exported, rule_metrics - exported


def test_metric_names_are_defined_where_listed():
  """Each TF Serving metric is declared in the file METRICS names, under that name."""
  declared = json.loads((TF_SERVING / 'metric_declarations.json').read_text())['lines']
  for metric in monitoring.METRICS:
    if not metric.source.startswith('tensorflow_serving/'):
      continue
    assert any(f'"{metric.name.replace(":", "/")}"' in line
               for line in declared.get(metric.source, ())), metric


@needs_promtool
def test_forge_serving_files_writes_what_a_local_server_and_prometheus_read(tmp_path, capsys):
  from pipeline import cli
  out = tmp_path / 'ops'
  assert cli.main(['serving-files', str(PROJECT_DIR / 'configs' / 'penguin.yaml'), str(out),
                   '--target', 'serving.example:8501']) == 0
  printed = capsys.readouterr().out
  assert f'--monitoring_config_file={out}/monitoring.config' in printed
  assert sorted(p.name for p in out.iterdir()) == sorted(
      ['monitoring.config', 'batching.config', 'prometheus.yml', 'alerts.yml',
       'grafana-dashboard.json'])
  scrape = yaml.safe_load((out / 'prometheus.yml').read_text())
  assert scrape['scrape_configs'][0]['static_configs'] == [
      {'targets': ['serving.example:8501']}]
  checked = _promtool('check', 'config', out / 'prometheus.yml')
  assert checked.returncode == 0, checked.stdout + checked.stderr


# ---- Canary rollout: version labels in models.config

def _labelled(directory):
  from tensorflow_serving.config import model_server_config_pb2
  config = text_format.Parse((directory / 'models.config').read_text(),
                             model_server_config_pb2.ModelServerConfig())
  (entry,) = config.model_config_list.config
  policy = entry.model_version_policy
  served = (sorted(policy.specific.versions) if policy.HasField('specific')
            else f'latest {policy.latest.num_versions}')
  return served, dict(entry.version_labels)


@pytest.fixture
def local_serving(tmp_path):
  """A serving dir with versions 1, 2 and 3 pushed (saved_model.pb is what marks one) and
  listed in models.config as the Pusher lists them, and its config file."""
  from components.serving_pusher import model_config
  serving = tmp_path / 'serving'
  for version in (1, 2, 3):
    (serving / 'penguin' / str(version)).mkdir(parents=True)
    (serving / 'penguin' / str(version) / 'saved_model.pb').write_bytes(b'')
  model_config.register(str(serving), 'penguin')
  path = write_config(tmp_path / 'penguin.yaml', 'penguin',
                      pipeline={'root': str(tmp_path / 'root')},
                      outputs={'serving_dir': str(serving)})
  return serving, str(path)


def test_rollout_promote_and_rollback_write_labelled_models_configs(local_serving, capsys):
  from pipeline import cli
  serving, config = local_serving
  assert _labelled(serving) == ('latest 2', {})
  assert cli.main(['rollout', config, '--canary', '3']) == 0
  assert _labelled(serving) == ([2, 3], {'stable': 2, 'canary': 3})
  assert '/v1/models/penguin/labels/canary' in capsys.readouterr().out
  assert cli.main(['promote', config]) == 0
  assert _labelled(serving) == ([3], {'stable': 3})
  # A new canary beside the promoted version; then rolled back to the stable one.
  assert cli.main(['rollout', config, '--canary', '1', '--stable', '3']) == 0
  assert _labelled(serving) == ([1, 3], {'stable': 3, 'canary': 1})
  assert cli.main(['rollback', config, '--to', '3']) == 0
  assert _labelled(serving) == ([3], {'stable': 3})
  # Rolled back to a version no label names: TF Serving would refuse a label on it.
  assert cli.main(['rollback', config, '--to', '2']) == 0
  assert _labelled(serving) == ([2], {})
  assert cli.main(['rollback', config, '--latest']) == 0
  assert _labelled(serving) == ('latest 2', {})


def test_rollout_refusals_say_why(local_serving, capsys):
  from pipeline import cli
  serving, config = local_serving
  before = (serving / 'models.config').read_text()
  assert cli.main(['promote', config]) == 1
  assert 'no canary version to promote' in capsys.readouterr().err
  assert cli.main(['rollout', config, '--canary', '9']) == 1
  assert f'{serving}/penguin/9: no such pushed version' in capsys.readouterr().err
  assert cli.main(['rollout', config, '--canary', '1']) == 1
  assert 'pass --stable VERSION' in capsys.readouterr().err
  assert (serving / 'models.config').read_text() == before
  # A second canary while one is out: TF Serving would refuse to move the label onto a
  # version it has not loaded, and drop the whole reload.
  assert cli.main(['rollout', config, '--canary', '3']) == 0
  capsys.readouterr()
  during = (serving / 'models.config').read_text()
  assert cli.main(['rollout', config, '--canary', '1', '--stable', '2']) == 1
  assert "the 'canary' label is on version 3" in capsys.readouterr().err
  assert (serving / 'models.config').read_text() == during


def test_manifests_carry_the_rollout_labels_through_a_recompile(tmp_path, capsys):
  from pipeline import cli
  path = write_config(tmp_path / 'penguin.yaml', 'penguin')
  config = load_config(path)
  directory = write_manifests(config, tmp_path / 'serving')
  assert cli.main(['rollout', str(path), '--canary', '8', '--stable', '7',
                   '--manifests', str(directory)]) == 0
  assert _labelled(directory) == ([7, 8], {'stable': 7, 'canary': 8})
  write_manifests(config, directory)  # forge compile again: the labels stay
  assert _labelled(directory) == ([7, 8], {'stable': 7, 'canary': 8})
  assert 'base_path: "gs://my-bucket/tfx-forge/serving/penguin"' in (
      directory / 'models.config').read_text()
  (container,) = yaml.safe_load((directory / 'deployment.yaml').read_text())[
      'spec']['template']['spec']['containers']
  assert '--allow_version_labels_for_unavailable_models' in container['args']
  assert cli.main(['promote', str(path), '--manifests', str(directory)]) == 0
  assert _labelled(directory) == ([8], {'stable': 8})


@pytest.mark.parametrize('command', ['rollout', 'promote', 'skew', 'serving-files'])
def test_operating_commands_have_help(command, capsys):
  from pipeline import cli
  with pytest.raises(SystemExit) as done:
    cli.main([command, '--help'])
  assert done.value.code == 0
  assert f'usage: forge {command}' in capsys.readouterr().out
