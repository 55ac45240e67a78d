"""Compiles the pipeline built by create_pipeline(config) into a KFP v2 pipeline spec with
TFX's KubeflowV2DagRunner, and submits it to a Kubeflow Pipelines endpoint."""
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

from pipeline import datasets
from pipeline.config import ConfigError, ForgeConfig
from kfp.pipeline_spec import pipeline_spec_pb2

from pipeline.pipeline import Deployment, create_pipeline
from pipeline.schema import PROJECT_DIR, curated_schema

# Run parameters a user can set per run at submit time.
DATA_ROOT_PARAMETER = 'data-root'
TRAIN_ARGS_PARAMETER = 'train-args'  # TrainArgs as JSON, e.g. {"num_steps": 1000}
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


def kubeflow_deployment(config: ForgeConfig) -> Deployment:
  kubeflow = _kubeflow_section(config)
  if config.data.window > 1:
    raise ConfigError(f'data.window {config.data.window}: the training window is resolved by '
                      'a resolver strategy of this project, and KFP v2 compiles only TFX\'s '
                      'own. On Kubeflow each run trains on its newest span: set data.window: 1 '
                      'for forge compile, submit and schedule.')
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
      # KFP v2 compiles only TFX's own resolver strategies (into MLMD queries).
      baseline_strategy=LatestBlessedModelStrategy,
      baseline_takes_candidate=False,
      # Which earlier data a gate accepted is not such a query: no drift baseline on Kubeflow.
      drift_baseline_strategy=None)


def compile_pipeline(config: ForgeConfig, output_dir: Path) -> Path:
  """Writes <output_dir>/pipeline.json (a KFP v2 PipelineJob) and returns its path."""
  kubeflow = _kubeflow_section(config)
  output_dir.mkdir(parents=True, exist_ok=True)
  runner = kubeflow_v2_dag_runner.KubeflowV2DagRunner(
      config=kubeflow_v2_dag_runner.KubeflowV2DagRunnerConfig(default_image=kubeflow.image),
      output_dir=str(output_dir), output_filename='pipeline.json')
  defaults = {DATA_ROOT_PARAMETER: kubeflow.data_root,
              TRAIN_ARGS_PARAMETER: train_args_json(config.training.train_steps)}
  runner.run(create_pipeline(config, kubeflow_deployment(config)), parameter_values=defaults,
             write_out=True)
  return output_dir / 'pipeline.json'


def run_request(config: ForgeConfig, spec_path: Path, host: str, experiment: str,
                parameters: Dict[str, object]) -> Dict[str, object]:
  """What `forge submit` sends: shown as is by --dry-run."""
  spec = json.loads(spec_path.read_text())
  defaults = {name: next(iter(value.values()))
              for name, value in spec['runtimeConfig'].get('parameters', {}).items()}
  return {
      'host': host,
      'experiment': experiment,
      'run_name': f'{config.pipeline.name}-{datetime.datetime.now():%Y%m%d-%H%M%S}',
      'pipeline_spec': str(spec_path),
      'pipeline_name': spec['pipelineSpec']['pipelineInfo']['name'],
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
  # TFX writes a PipelineJob; the kfp client takes the PipelineSpec inside it.
  job_path = Path(request['pipeline_spec'])
  spec_path = job_path.with_name('pipeline_spec.yaml')
  spec_path.write_text(yaml.safe_dump(json.loads(job_path.read_text())['pipelineSpec']))
  return spec_path


def schedule(request: Dict[str, object]) -> str:
  """Creates the recurring run with the kfp client; returns its id."""
  import kfp  # pylint: disable=import-outside-toplevel
  client = kfp.Client(host=request['host'])
  experiment = client.create_experiment(request['experiment'])
  recurring = client.create_recurring_run(
      experiment_id=experiment.experiment_id, job_name=request['job_name'],
      cron_expression=request['cron_expression'], max_concurrency=request['max_concurrency'],
      no_catchup=request['no_catchup'], params=request['parameters'],
      pipeline_package_path=str(_pipeline_package(request)))
  return recurring.recurring_run_id


def submit(request: Dict[str, object]) -> str:
  """Starts a run with the kfp client; returns the run's id."""
  import kfp  # pylint: disable=import-outside-toplevel
  client = kfp.Client(host=request['host'])
  result = client.create_run_from_pipeline_package(
      pipeline_file=str(_pipeline_package(request)),
      arguments=request['parameters'],
      run_name=request['run_name'],
      experiment_name=request['experiment'])
  return result.run_id
