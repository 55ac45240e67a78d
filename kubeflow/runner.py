"""Compiles the pipeline built by create_pipeline(config) into a KFP pipeline spec (schema
2.1.0) with TFX's KubeflowV2DagRunner, for one of two backends, and submits it.

- `kubeflow`: open-source Kubeflow Pipelines 2.x. Its backend runs only container and
  importer executors, so the Evaluator's baseline comes from a container step
  (LatestPushedModel: the newest pushed version) and there is no drift baseline.
- `vertex`: Vertex AI Pipelines, which runs TFX's resolver executors (ML Metadata queries):
  the baseline is TFX's LatestBlessedModelStrategy.
"""
from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Dict, Optional

import yaml

from tfx.dsl.input_resolution.strategies.latest_blessed_model_strategy import (
    LatestBlessedModelStrategy)
from tfx.orchestration import data_types
from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner

from kubeflow import backend_rules
from pipeline import datasets
from pipeline.config import ConfigError, ForgeConfig
from kfp.pipeline_spec import pipeline_spec_pb2

from pipeline.pipeline import Deployment, create_pipeline
from pipeline.schema import PROJECT_DIR, curated_schema

KUBEFLOW, VERTEX = 'kubeflow', 'vertex'
TARGETS = (KUBEFLOW, VERTEX)
# The open-source API server accepts only this (backend/src/apiserver/template/v2_template.go).
# Run parameters a user can set per run at submit time.
DATA_ROOT_PARAMETER = 'data-root'
TRAIN_ARGS_PARAMETER = 'train-args'  # TrainArgs as JSON, e.g. {"num_steps": 1000}
LATEST_PUSHED_MODEL = 'latest_pushed_model'  # the baseline step's task on open-source KFP
ResourceSpec = pipeline_spec_pb2.PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec


def _kubeflow_section(config: ForgeConfig):
  if config.kubeflow is None:
    raise ConfigError(
        'kubeflow: the config has no kubeflow section. Add one with at least kubeflow.image, '
        'kubeflow.pipeline_root, kubeflow.data_root and kubeflow.serving_dir '
        '(see configs/penguin.yaml).')
  return config.kubeflow


def _schema_in_image(config: ForgeConfig, project_dir: str) -> Optional[str]:
  schema = curated_schema(config)
  if schema is None:
    return None
  try:
    relative = schema.resolve().relative_to(PROJECT_DIR)
  except ValueError:
    raise ConfigError(f'data.schema: {schema} is outside the project, so the pipeline image '
                      'will not have it; move it under schemas/<dataset>/') from None
  return f'{project_dir.rstrip("/")}/{relative.as_posix()}'


def _trainer_resources(trainer) -> Optional[ResourceSpec]:
  if trainer.cpu is None and trainer.memory_gb is None and not trainer.gpu:
    return None
  spec = ResourceSpec()
  if trainer.cpu is not None:
    spec.cpu_limit = trainer.cpu
  if trainer.memory_gb is not None:
    spec.memory_limit = trainer.memory_gb
  if trainer.gpu:
    spec.accelerator.type = trainer.gpu_type
    spec.accelerator.count = trainer.gpu
  return spec


def train_args_json(train_steps: int) -> str:
  return json.dumps({'num_steps': train_steps})


def _input_pattern(config: ForgeConfig) -> str:
  """Every file under the data-root parameter, or the config's span pattern below it."""
  if not config.data.has_spans:
    return '*'
  return datasets.locate(config.data.builtin, config.data.path, config.data.format,
                         Path('data')).pattern


def kubeflow_deployment(config: ForgeConfig, target: str = KUBEFLOW) -> Deployment:
  kubeflow = _kubeflow_section(config)
  if target not in TARGETS:
    raise ConfigError(f'--target {target!r}: use {KUBEFLOW} (open-source Kubeflow Pipelines) '
                      f'or {VERTEX} (Vertex AI Pipelines)')
  if config.data.window > 1:
    raise ConfigError(f'data.window {config.data.window}: the training window is resolved by '
                      'a resolver strategy of this project, and KFP v2 compiles only TFX\'s '
                      'own. On Kubeflow each run trains on its newest span: set data.window: 1 '
                      'for forge compile, submit and schedule.')
  if config.data.eval_path is not None:
    raise ConfigError('data.eval_path: on Kubeflow ExampleGen reads one folder, the data-root '
                      'run parameter, and splits its rows; remove data.eval_path for forge '
                      'compile, submit and schedule (data.split_by keeps groups apart).')
  schema_file = _schema_in_image(config, kubeflow.project_dir)
  return Deployment(
      pipeline_root=f'{kubeflow.pipeline_root}/{config.pipeline.name}',
      input_base=data_types.RuntimeParameter(
          name=DATA_ROOT_PARAMETER, ptype=str, default=kubeflow.data_root),
      input_pattern=_input_pattern(config),
      data_format=(datasets.BUILTIN[config.data.builtin].format if config.data.builtin
                   else config.data.format),
      data_location=f'{kubeflow.data_root} (run parameter {DATA_ROOT_PARAMETER})',
      schema_file=schema_file,
      serving_dir=kubeflow.serving_dir,
      mobile_dir=kubeflow.mobile_dir or f'{kubeflow.serving_dir.rsplit("/", 1)[0]}/mobile',
      beam_args=kubeflow.beam_args,
      # KFP v2 substitutes run parameters only for whole exec properties, and a proto-typed
      # one is passed as JSON: so the run parameter is the TrainArgs, not just its steps.
      train_args=data_types.RuntimeParameter(
          name=TRAIN_ARGS_PARAMETER, ptype=str,
          default=train_args_json(config.training.train_steps)),
      trainer_resources=_trainer_resources(kubeflow.trainer),
      # Vertex runs TFX's own resolver strategies (compiled into MLMD queries); open-source
      # KFP runs none: there the LatestPushedModel step finds the baseline.
      baseline_strategy=LatestBlessedModelStrategy if target == VERTEX else None,
      baseline_takes_candidate=False,
      # Which earlier data a gate accepted is not such a query: no drift baseline on Kubeflow.
      drift_baseline_strategy=None)


def spec_name(pipeline_name: str) -> str:
  return pipeline_name.lower().replace('_', '-')


def compile_pipeline(config: ForgeConfig, output_dir: Path, target: str = KUBEFLOW) -> Path:
  """Writes <output_dir>/pipeline.json (a PipelineJob: the PipelineSpec, schema 2.1.0, and
  its runtime config) for `target` and returns its path."""
  kubeflow = _kubeflow_section(config)
  deployment = kubeflow_deployment(config, target)
  output_dir.mkdir(parents=True, exist_ok=True)
  runner = kubeflow_v2_dag_runner.KubeflowV2DagRunner(
      config=kubeflow_v2_dag_runner.KubeflowV2DagRunnerConfig(
          default_image=kubeflow.image, use_pipeline_spec_2_1=True),
      output_dir=str(output_dir), output_filename='pipeline.json')
  defaults = {DATA_ROOT_PARAMETER: kubeflow.data_root,
              TRAIN_ARGS_PARAMETER: train_args_json(config.training.train_steps)}
  pipeline = create_pipeline(config, deployment)
  # TFX's KFP compiler takes only [a-z0-9][a-z0-9-]{0,127} (Kubeflow names the run's Argo
  # Workflow after it, Vertex its PipelineJob): 'penguin_spans' -> 'penguin-spans'.
  pipeline.pipeline_info.pipeline_name = spec_name(config.pipeline.name)
  job = runner.run(pipeline, parameter_values=defaults, write_out=False)
  tasks = job['pipelineSpec']['root']['dag']['tasks']
  if LATEST_PUSHED_MODEL in tasks:
    # It reads the serving directory, which changes outside its inputs: never cached.
    tasks[LATEST_PUSHED_MODEL]['cachingOptions'] = {}
  refused = backend_rules.problems(job) if target == KUBEFLOW else []
  if refused:
    raise ConfigError('The compiled spec would be refused by Kubeflow Pipelines:\n  '
                      + '\n  '.join(refused))
  path = output_dir / 'pipeline.json'
  path.write_text(json.dumps(job, indent=2, sort_keys=True))
  return path


def check_backend(target: str, host: Optional[str], project: Optional[str],
                  region: Optional[str]) -> None:
  """Refuses a submit that names no backend of its target (before compiling)."""
  if target == KUBEFLOW and not host:
    raise ConfigError('--host: give the Kubeflow Pipelines API, e.g. http://localhost:8080 '
                      '(or --target vertex with --project and --region)')
  if target == VERTEX and not (project and region):
    raise ConfigError('--target vertex needs --project and --region (the Google Cloud project '
                      'and region of Vertex AI Pipelines, e.g. --region us-central1)')


def run_request(config: ForgeConfig, spec_path: Path, host: Optional[str], experiment: str,
                parameters: Dict[str, object], target: str = KUBEFLOW,
                project: Optional[str] = None, region: Optional[str] = None
                ) -> Dict[str, object]:
  """What `forge submit` sends: shown as is by --dry-run. `host` is the KFP API (target
  kubeflow); Vertex AI takes a Google Cloud project and region instead."""
  check_backend(target, host, project, region)
  spec = json.loads(spec_path.read_text())
  # Schema 2.1: runtimeConfig.parameterValues holds plain values (2.0: typed `parameters`).
  defaults = dict(spec['runtimeConfig'].get('parameterValues', {}))
  backend = ({'host': host} if target == KUBEFLOW else {'project': project, 'region': region})
  return {
      'target': target,
      **backend,
      'experiment': experiment,
      'run_name': f'{spec_name(config.pipeline.name)}-{datetime.datetime.now():%Y%m%d-%H%M%S}',
      'pipeline_spec': str(spec_path),
      'pipeline_name': spec['pipelineSpec']['pipelineInfo']['name'],
      # Where the run's artifacts go (kubeflow.pipeline_root/<pipeline>); KFP would use its
      # own default bucket otherwise.
      'pipeline_root': spec['runtimeConfig']['gcsOutputDirectory'],
      'parameters': {**defaults, **parameters},
  }


def cron_expression(expression: str) -> str:
  """KFP's six-field cron (seconds first); a five-field crontab line gets second 0."""
  fields = expression.split()
  if len(fields) == 5:
    fields = ['0', *fields]
  if len(fields) != 6:
    raise ConfigError(f'--cron {expression!r}: give a crontab schedule, 5 fields (minute hour '
                      'day month weekday, e.g. "0 3 * * *" for 03:00 daily) or KFP\'s 6 with '
                      'seconds first')
  return ' '.join(fields)


def schedule_request(run: Dict[str, object], cron: str) -> Dict[str, object]:
  """What `forge schedule` sends: a recurring run of the same spec and parameters."""
  return {**run, 'job_name': f'{run["pipeline_name"]}-recurring',
          'cron_expression': cron_expression(cron), 'max_concurrency': 1, 'no_catchup': True}


def _pipeline_package(request: Dict[str, object]) -> Path:
  """The file each backend takes: open-source KFP the PipelineSpec inside TFX's PipelineJob
  (schema 2.1.0, as YAML, the kfp client's package format); Vertex AI the PipelineJob."""
  job_path = Path(request['pipeline_spec'])
  if request.get('target', KUBEFLOW) == VERTEX:
    return job_path
  spec_path = job_path.with_name('pipeline_spec.yaml')
  spec_path.write_text(yaml.safe_dump(json.loads(job_path.read_text())['pipelineSpec']))
  return spec_path


def _vertex_job(request: Dict[str, object]):
  # pylint: disable=import-outside-toplevel
  from google.cloud import aiplatform
  return aiplatform.PipelineJob(
      display_name=request['run_name'], template_path=str(_pipeline_package(request)),
      pipeline_root=request['pipeline_root'], parameter_values=request['parameters'],
      project=request['project'], location=request['region'])


def schedule(request: Dict[str, object]) -> str:
  """Creates the recurring run (KFP client, or a Vertex AI schedule); returns its id."""
  if request.get('target', KUBEFLOW) == VERTEX:
    # Vertex takes a five-field crontab line.
    job_schedule = _vertex_job(request).create_schedule(
        display_name=request['job_name'], cron=request['cron_expression'].split(' ', 1)[1],
        max_concurrent_run_count=request['max_concurrency'])
    return job_schedule.resource_name
  import kfp  # pylint: disable=import-outside-toplevel
  client = kfp.Client(host=request['host'])
  experiment = client.create_experiment(request['experiment'])
  recurring = client.create_recurring_run(
      experiment_id=experiment.experiment_id, job_name=request['job_name'],
      cron_expression=request['cron_expression'], max_concurrency=request['max_concurrency'],
      no_catchup=request['no_catchup'], params=request['parameters'],
      pipeline_package_path=str(_pipeline_package(request)),
      pipeline_root=request['pipeline_root'])
  return recurring.recurring_run_id


def submit(request: Dict[str, object]) -> str:
  """Starts a run (KFP client, or a Vertex AI PipelineJob); returns the run's id."""
  if request.get('target', KUBEFLOW) == VERTEX:
    job = _vertex_job(request)
    job.submit(experiment=request['experiment'])
    return job.resource_name
  import kfp  # pylint: disable=import-outside-toplevel
  client = kfp.Client(host=request['host'])
  result = client.create_run_from_pipeline_package(
      pipeline_file=str(_pipeline_package(request)),
      arguments=request['parameters'],
      run_name=request['run_name'],
      experiment_name=request['experiment'],
      pipeline_root=request['pipeline_root'])
  return result.run_id
