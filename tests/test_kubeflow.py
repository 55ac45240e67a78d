"""The same pipeline compiled for open-source Kubeflow Pipelines (--target kubeflow) and
Vertex AI Pipelines (--target vertex), what the KFP backend accepts, the artifact types TFX's
container entry point imports, the serving manifests, and submission.
(The spec run task by task: test_kfp_replay.py.)"""
import copy
import http.server
import json
import subprocess
import threading

import pytest
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from tfx import types
from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner
from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_entrypoint_utils
from tfx.utils import import_utils

import forge
from kubeflow import backend_rules
from kubeflow.runner import (LATEST_PUSHED_MODEL, compile_pipeline, kubeflow_deployment,
                             run_request, schedule, schedule_request, submit)
from kubeflow.serving import GRPC_PORT, REST_PORT, write_manifests
from pipeline.config import ConfigError, load_config
from pipeline.pipeline import create_pipeline
from tests.conftest import FORGE, PROJECT_DIR, write_config

RESOLVER = 'latest_blessed_model_resolver'
DRIFT_RESOLVER = 'accepted_statistics_resolver'
# Every built-in config with a kubeflow section, for each target.
BUILT_IN = sorted(path.stem for path in (PROJECT_DIR / 'configs').glob('*.yaml')
                  if 'kubeflow' in yaml.safe_load(path.read_text()))
TARGETS = ['kubeflow', 'vertex']


def _config(tmp_path, name, **sections):
  return load_config(write_config(tmp_path / f'{name}.yaml', name,
                                  pipeline={'root': str(tmp_path / 'root')}, **sections))


@pytest.fixture(scope='module', params=[(name, target) for name in BUILT_IN
                                         for target in TARGETS], ids='-'.join)
def compiled(request, tmp_path_factory):
  name, target = request.param
  work = tmp_path_factory.mktemp(f'kfp_{name}_{target}')
  config = _config(work, name)
  job = json.loads(compile_pipeline(config, work / 'out', target).read_text())
  spec = json_format.ParseDict(job['pipelineSpec'], pipeline_spec_pb2.PipelineSpec())
  return config, job, spec


def _target(job) -> str:
  tasks = job['pipelineSpec']['root']['dag']['tasks']
  return 'kubeflow' if LATEST_PUSHED_MODEL in tasks else 'vertex'


def _executor_containers(job):
  deployment = json_format.ParseDict(job['pipelineSpec']['deploymentSpec'],
                                     pipeline_spec_pb2.PipelineDeploymentConfig())
  return {label.rsplit('_executor', 1)[0]: executor.container
          for label, executor in deployment.executors.items()
          if executor.HasField('container')}


def test_spec_has_every_local_component_with_the_same_edges(compiled):
  config, job, spec = compiled
  local = create_pipeline(config)
  tasks = spec.root.dag.tasks
  # Where the baseline comes from: a container step (open-source KFP), TFX's resolver split
  # into two MLMD queries with no inputs (Vertex).
  baseline = LATEST_PUSHED_MODEL if _target(job) == 'kubeflow' else RESOLVER
  for component in local.components:
    if component.id == DRIFT_RESOLVER:
      assert DRIFT_RESOLVER not in tasks  # a custom strategy: local runs only
      continue
    if component.id == RESOLVER:
      if baseline == RESOLVER:
        assert f'{RESOLVER}-model-resolver' in tasks
        assert f'{RESOLVER}-model-blessing-resolver' in tasks
      else:
        assert set(tasks[LATEST_PUSHED_MODEL].dependent_tasks) == {'Trainer'}
        assert not [task for task in tasks if task.startswith(RESOLVER)]
      continue
    upstream = {node.id for node in component.upstream_nodes} - {DRIFT_RESOLVER}
    upstream = {baseline if node == RESOLVER else node for node in upstream}
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
  defaults = job['runtimeConfig']['parameterValues']  # schema 2.1: plain values
  assert defaults['data-root'] == config.kubeflow.data_root
  assert json.loads(defaults['train-args']) == {'num_steps': config.training.train_steps}
  assert job['runtimeConfig']['gcsOutputDirectory'] == (
      f'{config.kubeflow.pipeline_root}/{config.pipeline.name}')


def test_curated_schema_is_read_from_the_image(compiled):
  config, _, spec = compiled
  schema_file = spec.root.dag.tasks['ImportSchemaGen'].inputs.parameters['schema_file']
  value = schema_file.runtime_value.constant.string_value
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
  serving_dir = pusher['serving_dir'].runtime_value.constant.string_value
  model_name = pusher['model_name'].runtime_value.constant.string_value
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
  config, job, _ = compiled
  if _target(job) != 'kubeflow':
    pytest.skip('the KFP API takes the kubeflow target\'s spec')
  server = http.server.HTTPServer(('127.0.0.1', 0), _KfpStandIn)
  threading.Thread(target=server.serve_forever, daemon=True).start()
  _KfpStandIn.requests.clear()
  spec_path = tmp_path / 'pipeline.json'
  spec_path.write_text(json.dumps(job))
  try:
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
  # The API server refuses any other (apiserver/template/v2_template.go).
  assert run['pipeline_spec']['schemaVersion'] == '2.1.0'
  assert run['runtime_config']['pipeline_root'] == job['runtimeConfig']['gcsOutputDirectory']
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


# What the open-source backend accepts (kubeflow/backend_rules.py cites the KFP source).

def _old_form(config, tmp_path) -> dict:
  """The spec `forge compile` wrote before: schema 2.0.0, TFX's resolvers."""
  runner = kubeflow_v2_dag_runner.KubeflowV2DagRunner(
      config=kubeflow_v2_dag_runner.KubeflowV2DagRunnerConfig(
          default_image=config.kubeflow.image),
      output_dir=str(tmp_path), output_filename='old.json')
  return runner.run(create_pipeline(config, kubeflow_deployment(config, 'vertex')),
                    parameter_values={'data-root': 'gs://b/data', 'train-args': '{}'},
                    write_out=False)


def test_backend_accepts_the_kubeflow_target_and_refuses_resolvers(compiled):
  _, job, _ = compiled
  refused = backend_rules.problems(job)
  if _target(job) == 'kubeflow':
    assert refused == []
  else:  # Vertex runs TFX's resolvers; open-source KFP does not
    assert refused and all('resolver executor' in problem for problem in refused)


def test_backend_refuses_the_old_form(tmp_path):
  refused = '\n'.join(backend_rules.problems(_old_form(_config(tmp_path, 'penguin'), tmp_path)))
  assert "schemaVersion '2.0.0'" in refused
  assert 'resolver executor' in refused
  assert 'instead of constant' in refused  # runtimeValue.constantValue
  assert "parameterType None" in refused  # 2.0's `type`


@pytest.mark.parametrize('change, expected', [
    (lambda s: s.update(schemaVersion='2.0.0'), 'schemaVersion'),
    (lambda s: s['pipelineInfo'].update(name='Penguin_Spans'), 'pipelineInfo.name'),
    (lambda s: s['pipelineInfo'].update(name=''), 'pipelineInfo.name'),
    (lambda s: s['deploymentSpec']['executors']['Trainer_executor'].update(
        resolver=s['deploymentSpec']['executors']['Trainer_executor'].pop('container')),
     'resolver executor'),
    (lambda s: s['deploymentSpec']['executors']['Trainer_executor']['container'][
        'args'].append('{{$.pipeline_root}}'), 'placeholder'),
    (lambda s: s['root']['dag']['tasks']['Pusher']['inputs']['parameters'][
        'model_name'].update(runtimeValue={'constantValue': {'stringValue': 'penguin'}}),
     'instead of constant'),
    (lambda s: s['components']['Pusher']['inputDefinitions']['parameters'][
        'model_name'].update(parameterType='PARAMETER_TYPE_ENUM_UNSPECIFIED'),
     'parameterType'),
    (lambda s: s['root']['dag']['tasks']['Evaluator'].update(
        dependentTasks=['Trainer', 'NoSuchTask']), 'NoSuchTask'),
    (lambda s: s['root']['dag']['tasks']['Evaluator'].update(artifactIterator={}),
     'artifactIterator'),
])
def test_a_spec_the_backend_would_refuse_fails(compiled, change, expected):
  config, job, _ = compiled
  if _target(job) != 'kubeflow' or config.pipeline.name != 'penguin':
    pytest.skip('one spec is enough')
  changed = copy.deepcopy(job)
  change(changed['pipelineSpec'])
  assert any(expected in problem for problem in backend_rules.problems(changed))


def test_run_parameter_values_must_match_their_type(compiled):
  _, job, _ = compiled
  changed = copy.deepcopy(job)
  changed['pipelineSpec']['root']['inputDefinitions']['parameters']['train-args'][
      'parameterType'] = 'STRUCT'
  assert any('train-args' in problem for problem in backend_rules.problems(changed))


def test_pipeline_names_with_underscores_compile_to_names_kubernetes_takes(tmp_path):
  config = _config(tmp_path, 'penguin')
  config.pipeline.name = 'penguin_spans'
  job = json.loads(compile_pipeline(config, tmp_path / 'out').read_text())
  assert job['pipelineSpec']['pipelineInfo']['name'] == 'penguin-spans'
  assert backend_rules.problems(job) == []


# Custom artifact types, as TFX's container entry point imports them.

def _artifact_types(job) -> dict:
  """schema title -> ArtifactTypeSchema, of every artifact any component reads or writes."""
  spec = json_format.ParseDict(job['pipelineSpec'], pipeline_spec_pb2.PipelineSpec())
  types_by_title = {}
  for component in spec.components.values():
    for definitions in (component.input_definitions, component.output_definitions):
      for artifact in definitions.artifacts.values():
        types_by_title[yaml.safe_load(artifact.artifact_type.instance_schema)['title']] = (
            artifact.artifact_type)
  return types_by_title


def test_every_artifact_type_in_the_spec_imports_through_tfx_entry_point(compiled):
  _, job, _ = compiled
  titles = _artifact_types(job)
  assert 'forge.LeakageReport' in titles and 'forge.ModelCard' in titles
  for title, schema in titles.items():
    # What kubeflow_v2_entrypoint_utils._parse_raw_artifact does with each artifact.
    # pylint: disable=protected-access
    class_path = kubeflow_v2_entrypoint_utils._retrieve_class_path(schema)
    artifact_class = import_utils.import_class_by_path(class_path)
    assert issubclass(artifact_class, types.Artifact), title
    if not title.startswith('tfx.'):
      assert artifact_class.TYPE_NAME == title


def test_every_custom_artifact_type_is_exported_by_forge():
  # Importing the components defines every artifact class they use.
  import importlib  # pylint: disable=import-outside-toplevel
  for component in (PROJECT_DIR / 'components').glob('*/component.py'):
    importlib.import_module(f'components.{component.parent.name}.component')

  def subclasses(cls):
    for sub in cls.__subclasses__():
      yield sub
      yield from subclasses(sub)
  ours = {cls.TYPE_NAME: cls for cls in subclasses(types.Artifact)
          if cls.__module__.startswith('components.')}
  assert set(ours) >= {'forge.LeakageReport', 'forge.DistillationReport', 'forge.ModelCard'}
  for type_name, cls in ours.items():
    module, name = type_name.split('.')
    assert module == 'forge', f'{cls}: TYPE_NAME {type_name!r} must be forge.<class name>'
    assert getattr(forge, name) is cls


def test_example_gen_resolves_spans_when_no_driver_ran(tmp_path):
  """Open-source KFP never runs the spec's lifecycle.preCacheCheck (TFX's ExampleGen
  driver): the executor resolves {SPAN} itself (components/example_gen/spans.py)."""
  # pylint: disable=import-outside-toplevel
  from tfx.proto import example_gen_pb2
  from tfx.types import standard_artifacts
  from tfx.utils import proto_utils
  from components.example_gen import spans
  for span in (2007, 2008, 2009):
    (tmp_path / f'year-{span}').mkdir()
    (tmp_path / f'year-{span}' / 'penguins.csv').write_text('species\nAdelie\n')
  pattern = example_gen_pb2.Input(splits=[
      example_gen_pb2.Input.Split(name='all', pattern='year-{SPAN}/penguins.csv')])
  examples = standard_artifacts.Examples()
  resolved = spans.resolve_when_no_driver_ran(
      {'input_base': str(tmp_path), 'input_config': proto_utils.proto_to_json(pattern)},
      {'examples': [examples]})
  assert resolved['span'] == examples.span == 2009
  assert json.loads(resolved['input_config'])['splits'][0]['pattern'] == 'year-2009/penguins.csv'
  assert resolved['input_fingerprint'].startswith('split:all,num_files:1,')
  # A driver ran (locally, on Vertex): nothing changes.
  assert spans.resolve_when_no_driver_ran({'span': 7}, {}) == {'span': 7}


def test_the_image_entry_point_is_what_the_spec_calls(compiled):
  _, job, _ = compiled
  dockerfile = (PROJECT_DIR / 'kubeflow' / 'Dockerfile').read_text()
  (entry_point,) = [json.loads(line.split(None, 1)[1]) for line in dockerfile.splitlines()
                    if line.startswith('ENTRYPOINT')]
  for label, executor in job['pipelineSpec']['deploymentSpec']['executors'].items():
    if 'container' in executor:
      assert executor['container']['command'] == entry_point, label
  # Every package pyproject installs is in the image (forge/ holds the artifact types).
  import tomli  # pylint: disable=import-outside-toplevel  (Python 3.10: no tomllib)
  pyproject = tomli.loads((PROJECT_DIR / 'pyproject.toml').read_text())
  for package in pyproject['tool']['setuptools']['packages']['find']['include']:
    folder = package.rstrip('*')
    assert f'COPY {folder} ./{folder}' in dockerfile, package


def test_latest_pushed_model_takes_the_newest_complete_version(tmp_path):
  # pylint: disable=import-outside-toplevel
  from components.baseline_resolver.executor import newest_pushed_version
  assert newest_pushed_version(str(tmp_path), 'penguin') is None  # a first run
  for version, complete in ((100, True), (200, True), (300, False)):
    (tmp_path / 'penguin' / str(version)).mkdir(parents=True)
    if complete:  # the pushers copy saved_model.pb last
      (tmp_path / 'penguin' / str(version) / 'saved_model.pb').write_bytes(b'')
  (tmp_path / 'penguin' / '.partial-400').mkdir()
  (tmp_path / 'penguin' / '.partial-400' / 'saved_model.pb').write_bytes(b'')
  assert newest_pushed_version(str(tmp_path), 'penguin') == f'{tmp_path}/penguin/200'


def test_the_evaluator_leaves_out_an_empty_baseline(tmp_path):
  # pylint: disable=import-outside-toplevel
  from tfx.types import standard_artifacts
  from components.small_batches.executor import without_empty_baseline
  empty, pushed = standard_artifacts.Model(), standard_artifacts.Model()
  empty.uri, pushed.uri = str(tmp_path / 'empty'), str(tmp_path / 'pushed')
  (tmp_path / 'pushed' / 'Format-Serving').mkdir(parents=True)
  (tmp_path / 'pushed' / 'Format-Serving' / 'saved_model.pb').write_bytes(b'')
  assert without_empty_baseline({'baseline_model': [empty]})['baseline_model'] == []
  assert without_empty_baseline({'baseline_model': [pushed]})['baseline_model'] == [pushed]
  assert without_empty_baseline({'model': []}) == {'model': []}


def test_submit_to_vertex_dry_run_prints_the_pipeline_job_request(tmp_path):
  request = _dry_run(tmp_path, 'submit', '--target', 'vertex', '--project', 'my-project',
                     '--region', 'us-central1')
  assert request['target'] == 'vertex' and request['region'] == 'us-central1'
  assert request['pipeline_root'] == 'gs://my-bucket/tfx-forge/pipelines/penguin'
  job = json.loads((tmp_path / 'out' / 'pipeline.json').read_text())
  assert any('resolver' in executor
             for executor in job['pipelineSpec']['deploymentSpec']['executors'].values())


def test_submit_without_a_backend_says_which_flags_to_give(tmp_path):
  config = write_config(tmp_path / 'penguin.yaml', 'penguin')
  completed = subprocess.run(FORGE + ['submit', str(config), '--target', 'vertex', '--dry-run'],
                             cwd=PROJECT_DIR, capture_output=True, text=True, timeout=300)
  assert completed.returncode != 0
  assert '--project and --region' in completed.stderr + completed.stdout
