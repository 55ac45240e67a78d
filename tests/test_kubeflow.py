"""The same pipeline compiled for Kubeflow Pipelines, its serving manifests, and submission."""
import http.server
import json
import subprocess
import threading

import pytest
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from kubeflow.runner import (compile_pipeline, run_request, schedule, schedule_request,
                             submit)
from kubeflow.serving import GRPC_PORT, REST_PORT, write_manifests
from pipeline.config import ConfigError, load_config
from pipeline.pipeline import create_pipeline
from tests.conftest import FORGE, PROJECT_DIR, write_config

RESOLVER = 'latest_blessed_model_resolver'
DRIFT_RESOLVER = 'accepted_statistics_resolver'


def _config(tmp_path, name, **sections):
  return load_config(write_config(tmp_path / f'{name}.yaml', name,
                                  pipeline={'root': str(tmp_path / 'root')}, **sections))


@pytest.fixture(scope='module', params=['penguin', 'taxi', 'digits'])
def compiled(request, tmp_path_factory):
  work = tmp_path_factory.mktemp(f'kfp_{request.param}')
  config = _config(work, request.param)
  job = json.loads(compile_pipeline(config, work / 'out').read_text())
  spec = json_format.ParseDict(job['pipelineSpec'], pipeline_spec_pb2.PipelineSpec())
  return config, job, spec


def _executor_containers(job):
  deployment = json_format.ParseDict(job['pipelineSpec']['deploymentSpec'],
                                     pipeline_spec_pb2.PipelineDeploymentConfig())
  return {label.rsplit('_executor', 1)[0]: executor.container
          for label, executor in deployment.executors.items()
          if executor.HasField('container')}


def test_spec_has_every_local_component_with_the_same_edges(compiled):
  config, _, spec = compiled
  local = create_pipeline(config)
  tasks = spec.root.dag.tasks
  for component in local.components:
    if component.id == DRIFT_RESOLVER:
      assert DRIFT_RESOLVER not in tasks  # a custom strategy: local runs only
      continue
    if component.id == RESOLVER:
      # KFP v2 splits the baseline resolver into two MLMD queries, with no inputs.
      assert f'{RESOLVER}-model-resolver' in tasks
      assert f'{RESOLVER}-model-blessing-resolver' in tasks
      continue
    upstream = {node.id for node in component.upstream_nodes} - {DRIFT_RESOLVER}
    kfp_upstream = {task.split('-model-')[0] for task in tasks[component.id].dependent_tasks}
    assert kfp_upstream == upstream, component.id


def test_spec_uses_the_configured_image_beam_args_and_trainer_resources(compiled):
  config, job, _ = compiled
  kubeflow = config.kubeflow
  containers = _executor_containers(job)
  assert {'Trainer', 'Transform', 'Evaluator', 'Pusher'} <= set(containers)
  for name, container in containers.items():
    assert container.image == kubeflow.image, name
  for beam_component in ('StatisticsGen', 'Transform', 'Evaluator'):
    assert set(kubeflow.beam_args) <= set(containers[beam_component].args)
  resources = containers['Trainer'].resources
  assert resources.cpu_limit == kubeflow.trainer.cpu
  assert resources.memory_limit == kubeflow.trainer.memory_gb
  assert resources.accelerator.count == kubeflow.trainer.gpu


def test_data_root_and_train_args_are_run_parameters(compiled):
  config, job, spec = compiled
  assert set(spec.root.input_definitions.parameters) == {'data-root', 'train-args'}
  defaults = job['runtimeConfig']['parameters']
  assert defaults['data-root']['stringValue'] == config.kubeflow.data_root
  assert json.loads(defaults['train-args']['stringValue']) == {
      'num_steps': config.training.train_steps}


def test_curated_schema_is_read_from_the_image(compiled):
  config, _, spec = compiled
  schema_file = spec.root.dag.tasks['ImportSchemaGen'].inputs.parameters['schema_file']
  value = schema_file.runtime_value.constant_value.string_value
  assert value.startswith(config.kubeflow.project_dir + '/schemas/')


@pytest.mark.parametrize('kubeflow, key', [
    ({'image': None}, 'kubeflow.image'),
    ({'pipeline_root': '/tmp/local/root'}, 'kubeflow.pipeline_root'),
    ({'serving_dir': 'build/serving'}, 'kubeflow.serving_dir'),
    ({'trainer': {'gpu': 2}}, 'gpu_type'),
])
def test_kubeflow_config_errors_name_the_key(tmp_path, kubeflow, key):
  raw = yaml.safe_load((PROJECT_DIR / 'configs' / 'penguin.yaml').read_text())
  raw['kubeflow'].update(kubeflow)
  raw['kubeflow'] = {k: v for k, v in raw['kubeflow'].items() if v is not None}
  path = tmp_path / 'c.yaml'
  path.write_text(yaml.safe_dump(raw))
  with pytest.raises(ConfigError, match=key.replace('.', r'\.')):
    load_config(path)


def test_compiling_without_a_kubeflow_section_says_what_to_add(tmp_path):
  raw = yaml.safe_load((PROJECT_DIR / 'configs' / 'penguin.yaml').read_text())
  del raw['kubeflow']
  path = tmp_path / 'c.yaml'
  path.write_text(yaml.safe_dump(raw))
  with pytest.raises(ConfigError, match='kubeflow.image'):
    compile_pipeline(load_config(path), tmp_path / 'out')


def test_serving_manifests_match_the_pusher_output(compiled, tmp_path):
  config, _, spec = compiled
  out = write_manifests(config, tmp_path / 'serving')
  deployment = yaml.safe_load((out / 'deployment.yaml').read_text())
  service = yaml.safe_load((out / 'service.yaml').read_text())
  kustomization = yaml.safe_load((out / 'kustomization.yaml').read_text())
  assert set(kustomization['resources']) == {'deployment.yaml', 'service.yaml',
                                            'networkpolicy.yaml'}
  container = deployment['spec']['template']['spec']['containers'][0]
  assert {p['containerPort'] for p in container['ports']} == {GRPC_PORT, REST_PORT}
  assert {p['port'] for p in service['spec']['ports']} == {GRPC_PORT, REST_PORT}
  assert container['readinessProbe']['httpGet']['path'] == f'/v1/models/{config.model_name}'
  pusher = spec.root.dag.tasks['Pusher'].inputs.parameters
  serving_dir = pusher['serving_dir'].runtime_value.constant_value.string_value
  model_name = pusher['model_name'].runtime_value.constant_value.string_value
  assert model_name == config.model_name
  base_path = f'{serving_dir}/{model_name}'
  models_config = (out / 'models.config').read_text()
  assert f'name: "{config.model_name}"' in models_config
  assert f'base_path: "{base_path}"' in models_config


def _dry_run(tmp_path, command: str, *flags: str) -> dict:
  """The request `forge <command> --dry-run` prints for the penguin config."""
  config = write_config(tmp_path / 'penguin.yaml', 'penguin')
  completed = subprocess.run(
      FORGE + [command, str(config), '--host', 'http://127.0.0.1:9', '--dry-run',
               '--output-dir', str(tmp_path / 'out'), *flags],
      cwd=PROJECT_DIR, capture_output=True, text=True, timeout=300)
  assert completed.returncode == 0, completed.stderr
  return json.loads(completed.stdout.split('would send:\n', 1)[1])


def test_submit_dry_run_prints_the_request(tmp_path):
  request = _dry_run(tmp_path, 'submit', '--data-root', 'gs://other/data')
  assert request['parameters']['data-root'] == 'gs://other/data'
  assert request['pipeline_name'] == 'penguin'


class _KfpStandIn(http.server.BaseHTTPRequestHandler):
  """A stand-in for the KFP API server (v2beta1), recording what the client sends.
  Test double: no Kubeflow cluster is reachable from here."""
  requests = []

  def _reply(self, body):
    payload = json.dumps(body).encode()
    self.send_response(200)
    self.send_header('Content-Type', 'application/json')
    self.send_header('Content-Length', str(len(payload)))
    self.end_headers()
    self.wfile.write(payload)

  def do_GET(self):  # noqa: N802
    self.requests.append(('GET', self.path, None))
    if self.path.startswith('/apis/v2beta1/healthz'):
      self._reply({'multi_user': False})
    else:  # experiment lookup by name: none yet
      self._reply({})

  def do_POST(self):  # noqa: N802
    body = json.loads(self.rfile.read(int(self.headers['Content-Length'])))
    self.requests.append(('POST', self.path, body))
    if self.path.startswith('/apis/v2beta1/experiments'):
      self._reply({'experiment_id': 'exp-1', 'display_name': body['display_name']})
    elif self.path.startswith('/apis/v2beta1/recurringruns'):
      self._reply({'recurring_run_id': 'recurring-1', 'display_name': body['display_name']})
    else:
      self._reply({'run_id': 'run-1', 'display_name': body['display_name']})

  def log_message(self, *args):
    pass


def test_submit_starts_a_run_through_the_kfp_client(compiled, tmp_path):
  config, _, _ = compiled
  server = http.server.HTTPServer(('127.0.0.1', 0), _KfpStandIn)
  threading.Thread(target=server.serve_forever, daemon=True).start()
  _KfpStandIn.requests.clear()
  try:
    spec_path = compile_pipeline(config, tmp_path / 'out')
    request = run_request(config, spec_path, f'http://127.0.0.1:{server.server_port}',
                          'tfx-forge', {'data-root': 'gs://other/data'})
    assert submit(request) == 'run-1'
  finally:
    server.shutdown()
  runs = [body for method, path, body in _KfpStandIn.requests
          if method == 'POST' and path.startswith('/apis/v2beta1/runs')]
  assert len(runs) == 1
  run = runs[0]
  assert run['pipeline_spec']['pipelineInfo']['name'] == config.pipeline.name
  assert run['runtime_config']['parameters']['data-root'] == 'gs://other/data'
  assert run['experiment_id'] == 'exp-1'


def test_schedule_creates_a_recurring_run_of_the_compiled_spec(tmp_path):
  config = _config(tmp_path, 'penguin')
  request = _dry_run(tmp_path, 'schedule', '--cron', '0 3 * * *')
  assert request['cron_expression'] == '0 0 3 * * *'  # KFP's cron has seconds first
  assert request['job_name'] == 'penguin-recurring' and request['max_concurrency'] == 1
  server = http.server.HTTPServer(('127.0.0.1', 0), _KfpStandIn)
  threading.Thread(target=server.serve_forever, daemon=True).start()
  _KfpStandIn.requests.clear()
  try:
    # The spec the dry run compiled (compiling takes most of a minute).
    run = run_request(config, tmp_path / 'out' / 'pipeline.json',
                      f'http://127.0.0.1:{server.server_port}', 'tfx-forge', {})
    assert schedule(schedule_request(run, '0 3 * * *')) == 'recurring-1'
  finally:
    server.shutdown()
  (sent,) = [body for method, path, body in _KfpStandIn.requests
             if method == 'POST' and path.startswith('/apis/v2beta1/recurringruns')]
  assert sent['trigger']['cron_schedule']['cron'] == '0 0 3 * * *'
  assert sent['pipeline_spec']['pipelineInfo']['name'] == config.pipeline.name
  assert sent['experiment_id'] == 'exp-1' and int(sent['max_concurrency']) == 1
  assert sent['no_catchup'] is True
