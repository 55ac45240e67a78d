"""create_pipeline(config): the one TFX pipeline definition both runners use.

What differs between running here and on Kubeflow (paths, data location, Beam arguments,
metadata store, resources) is a `Deployment`; the components and their wiring are not.
"""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import List, Optional, Type, Union

# Not tfx.v1: it imports Google Cloud's AI Platform SDK, 8 s of every run's start-up.
from tfx.components import ExampleValidator, SchemaGen, StatisticsGen, Trainer, Transform, Tuner
from tfx.components.schema_gen.import_schema_gen.component import ImportSchemaGen
from tfx.dsl.components.common.resolver import Resolver
from tfx.orchestration import data_types, metadata
from tfx.orchestration.pipeline import Pipeline
from tfx.proto import example_gen_pb2
from tfx.types import Channel, standard_artifacts

from base.names import safe_column
from base.settings import to_exec_property
from components.baseline_resolver.accepted_spans import AcceptedSpansStrategy
from components.baseline_resolver.accepted_statistics import LatestAcceptedStatisticsStrategy
from components.baseline_resolver.component import LatestPushedModel
from components.baseline_resolver.strategy import LatestBlessedOtherModelStrategy
from components.common.fingerprint import code_fingerprint as component_fingerprint
from components.example_gen.component import CsvExampleGen, ImportExampleGen
from components.example_gen.executor import custom_config as example_gen_config
from components.example_gen.split import split_buckets
from components.leakage_check.component import LeakageCheck
from components.model_card.component import ModelCard
from components.serving_pusher.component import ServingPusher
from components.small_batches.component import Evaluator
from components.validation_gate.component import DataValidationGate
from models.common.family import Family, load_family
from pipeline import datasets
from pipeline.config import ForgeConfig
from pipeline.evaluation import eval_config
from pipeline.schema import curated_schema

@dataclasses.dataclass(frozen=True)
class Deployment:
  """Where and how the pipeline runs."""
  pipeline_root: str
  input_base: Union[str, data_types.RuntimeParameter]
  input_pattern: str
  data_format: str
  data_location: str  # how error messages name the data
  schema_file: Optional[str]  # None: infer with SchemaGen
  serving_dir: str  # models go to <serving_dir>/<model name>/<version>/
  mobile_dir: str  # .tflite files go to <mobile_dir>/<model name>/<version>/
  beam_args: List[str]
  train_args: Union[dict, data_types.RuntimeParameter]  # TrainArgs, or its JSON at run time
  metadata_connection_config: Optional[object] = None  # None: the orchestrator's own
  trainer_resources: Optional[object] = None  # a KFP ResourceSpec proto
  # Finds the Evaluator's baseline; None: the LatestPushedModel step instead of a Resolver
  # (open-source KFP runs no resolvers: only container and importer executors).
  baseline_strategy: Optional[Type] = LatestBlessedOtherModelStrategy
  # The strategy also takes the Trainer's model, to leave it (and incompatible baselines) out.
  baseline_takes_candidate: bool = True
  # Finds the drift baseline; None: no drift check (KFP v2 compiles only TFX's own strategies).
  drift_baseline_strategy: Optional[Type] = LatestAcceptedStatisticsStrategy
  # Data that arrives split: input_pattern is the training rows, this the eval rows (both
  # under input_base); None: ExampleGen splits input_pattern's rows.
  eval_pattern: Optional[str] = None


def local_beam_args(args: List[str]) -> List[str]:
  """Beam arguments for a run on this machine. Unless a dependency flag is set, TFX builds
  a source package of itself for remote Beam workers before each Beam component (1.3 s
  each, measured); the DirectRunner's workers use this environment and never read it, so
  one is set for it. Another runner gets the arguments as written."""
  runners = [arg.split('=', 1)[-1] for arg in args if arg.startswith('--runner')]
  if runners and runners[-1] not in ('DirectRunner', 'direct'):
    return list(args)
  return [*args, '--sdk_container_image=unused-by-the-DirectRunner']


def local_deployment(config: ForgeConfig) -> Deployment:
  """This machine: LocalDagRunner, Beam's DirectRunner, ML Metadata in sqlite. A built-in
  dataset is read from <root>/data, where the runner writes it (datasets.materialize)."""
  root = config.pipeline.root.resolve()
  source = datasets.locate(config.data.builtin, config.data.path, config.data.format,
                           root / 'data')
  input_base, input_pattern, eval_pattern = source.input_base, source.pattern, None
  if config.data.eval_path is not None:
    eval_source = datasets.locate(None, config.data.eval_path, config.data.format, root)
    input_base = Path(os.path.commonpath([source.input_base, eval_source.input_base]))
    input_pattern, eval_pattern = (
        (part.input_base / part.pattern).relative_to(input_base).as_posix()
        for part in (source, eval_source))
  schema_file = curated_schema(config)
  return Deployment(
      pipeline_root=str(root),
      input_base=str(input_base),
      input_pattern=input_pattern,
      eval_pattern=eval_pattern,
      data_format=source.format,
      data_location=(str(input_base / input_pattern) if eval_pattern is None else
                     f'{input_base / input_pattern} and {input_base / eval_pattern}'),
      schema_file=str(schema_file) if schema_file else None,
      serving_dir=str(config.outputs.serving_dir.resolve()),
      mobile_dir=str(config.outputs.mobile_path.resolve()),
      beam_args=local_beam_args(config.beam.args),
      train_args={'num_steps': config.training.train_steps},
      metadata_connection_config=(
          metadata.sqlite_metadata_connection_config(
              str(config.metadata_path.resolve()))))


def _example_gen(deployment: Deployment, config: ForgeConfig, label_key: str):
  """ExampleGen splitting the rows by position (or data.split_by's groups) into train and
  eval, or reading data that arrives split as given."""
  if deployment.eval_pattern is not None:
    splits = example_gen_pb2.Output()
    inputs = example_gen_pb2.Input(splits=[
        example_gen_pb2.Input.Split(name='train', pattern=deployment.input_pattern),
        example_gen_pb2.Input.Split(name='eval', pattern=deployment.eval_pattern)])
  else:
    train_buckets, eval_buckets = split_buckets(config.data.eval_fraction)
    splits = example_gen_pb2.Output(split_config=example_gen_pb2.SplitConfig(splits=[
        example_gen_pb2.SplitConfig.Split(name='train', hash_buckets=train_buckets),
        example_gen_pb2.SplitConfig.Split(name='eval', hash_buckets=eval_buckets),
    ]))
    inputs = example_gen_pb2.Input(
        splits=[example_gen_pb2.Input.Split(name='all', pattern=deployment.input_pattern)])
  # The executor's source keys the cache too (it is ours, not TFX's).
  settings = {'executor_fingerprint': component_fingerprint('components.example_gen.executor'),
              'split_seed': config.data.split_seed}
  if config.data.split_by:
    settings['split_by'] = config.data.split_by
  if config.data.delimiter != ',':
    settings['delimiter'] = config.data.delimiter
  if config.data.drop_unlabeled:
    settings['drop_unlabeled'] = label_key
  custom_config = example_gen_config(settings)
  if deployment.data_format != 'csv':
    return ImportExampleGen(input_base=deployment.input_base, input_config=inputs,
                            output_config=splits, custom_config=custom_config)
  return CsvExampleGen(input_base=deployment.input_base, input_config=inputs,
                       output_config=splits, custom_config=custom_config)


def _model_info(config: ForgeConfig, family: Family) -> dict:
  """Name, description and author of the .tflite files' metadata, from the config (the
  model card's overview and owners, when filled in)."""
  card = config.model_card
  task = 'regression' if family.is_regression else 'classifier'
  return {
      'name': config.model_name,
      'description': card.overview or (f'{family.name} {task} from the tfx-forge pipeline '
                                       f'{config.pipeline.name!r}.'),
      'author': ', '.join(owner.name for owner in card.owners) or 'tfx-forge',
  }


def _mobile_components(config: ForgeConfig, deployment: Deployment, family: Family,
                       family_settings: dict, example_gen, transform, trainer,
                       evaluator) -> list:
  """[Distiller,] ModelOptimizer (prune, QAT, TFLite variants, measured) and the push of the
  selected variant once the Evaluator has blessed the model. With distillation, the
  optimizer starts from the student."""
  # Imported here: TensorFlow Model Optimization takes 1.6 s to import; only these use it.
  # pylint: disable=import-outside-toplevel
  from components.distiller.component import Distiller
  from components.mobile_pusher.component import MobilePusher
  from components.model_optimizer.component import ModelOptimizer
  distiller = []
  if config.distillation.enabled:
    distiller.append(Distiller(
        model=trainer.outputs['model'],
        transform_graph=transform.outputs['transform_graph'],
        transformed_examples=transform.outputs['transformed_examples'],
        family=family.name,
        settings=to_exec_property(config.distillation, **family_settings,
                                  seed=config.training.seed),
        batch_size=config.training.batch_size))
  optimizer = ModelOptimizer(
      model=(distiller[0].outputs['student_model'] if distiller else trainer.outputs['model']),
      transform_graph=transform.outputs['transform_graph'],
      transformed_examples=transform.outputs['transformed_examples'],
      examples=example_gen.outputs['examples'],
      family=family.name,
      settings=to_exec_property(config.optimization, **family_settings,
                                seed=config.training.seed,
                                model_info=_model_info(config, family)),
      batch_size=config.training.batch_size)
  mobile_pusher = MobilePusher(
      tflite_models=optimizer.outputs['tflite_models'],
      report=optimizer.outputs['report'],
      model_blessing=evaluator.outputs['blessing'],
      mobile_dir=deployment.mobile_dir,
      model_name=config.model_name)
  return [*distiller, optimizer, mobile_pusher]


def _baseline(deployment: Deployment, config: ForgeConfig, trainer):
  """The node that finds the Evaluator's baseline: a Resolver (here, on Vertex), or where
  resolvers do not run, the step that takes the newest pushed version."""
  if deployment.baseline_strategy is None:
    return LatestPushedModel(model=trainer.outputs['model'],
                             serving_dir=deployment.serving_dir,
                             model_name=config.model_name).with_id('latest_pushed_model')
  candidate = ({'candidate': trainer.outputs['model']}
               if deployment.baseline_takes_candidate else {})
  return Resolver(
      strategy_class=deployment.baseline_strategy,
      model=Channel(type=standard_artifacts.Model),
      model_blessing=Channel(type=standard_artifacts.ModelBlessing),
      **candidate,
  ).with_id('latest_blessed_model_resolver')


def create_pipeline(config: ForgeConfig,
                    deployment: Optional[Deployment] = None) -> Pipeline:
  deployment = deployment or local_deployment(config)
  family_spec = config.model.family_spec()
  family = load_family(config.model.family, family_spec)
  code_fingerprint = family.code_fingerprint  # reads the family's source files
  # What the executors running the family's code rebuild it from (tabular: the config's).
  family_settings = {'code_fingerprint': code_fingerprint,
                     **({'family_spec': family_spec} if family_spec else {})}
  example_gen = _example_gen(deployment, config, family.label_key)
  statistics_gen = StatisticsGen(examples=example_gen.outputs['examples'])
  if deployment.schema_file is not None:
    schema_gen = ImportSchemaGen(schema_file=deployment.schema_file)
  else:
    schema_gen = SchemaGen(
        statistics=statistics_gen.outputs['statistics'], infer_feature_shape=True)
  example_validator = ExampleValidator(
      statistics=statistics_gen.outputs['statistics'], schema=schema_gen.outputs['schema'])
  drift_components = []
  if config.data.check_drift and deployment.drift_baseline_strategy is not None:
    drift_components.append(Resolver(
        strategy_class=deployment.drift_baseline_strategy,
        statistics=Channel(type=standard_artifacts.ExampleStatistics),
        candidate=statistics_gen.outputs['statistics'],
    ).with_id('accepted_statistics_resolver'))
  validation_gate = DataValidationGate(
      anomalies=example_validator.outputs['anomalies'],
      statistics=statistics_gen.outputs['statistics'],
      schema=schema_gen.outputs['schema'],
      baseline_statistics=(drift_components[0].outputs['statistics'] if drift_components
                           else None),
      data_location=deployment.data_location,
      schema_location=deployment.schema_file or 'the schema inferred by SchemaGen',
      min_split_rows=json.dumps({'train': config.data.min_train_rows,
                                 'eval': config.data.min_eval_rows}),
      label_key=family.label_key,
      eval_fraction=config.data.eval_fraction,
      code_fingerprint=component_fingerprint('components.validation_gate.component'))
  span_window = []
  if config.data.window > 1:
    # KFP v2 compiles only TFX's own resolver strategies: kubeflow_deployment refuses windows.
    span_window.append(Resolver(
        strategy_class=AcceptedSpansStrategy, config={'num_spans': config.data.window},
        examples=Channel(type=standard_artifacts.Examples,
                         producer_component_id=example_gen.id),
        candidate=example_gen.outputs['examples']).with_id('span_window_resolver'))
  # What Transform analyses and the Trainer reads: this run's span, or the window's spans.
  training_examples = (span_window[0].outputs['examples'] if span_window
                       else example_gen.outputs['examples'])
  transform = Transform(
      examples=training_examples,
      schema=schema_gen.outputs['schema'],
      preprocessing_fn=family.preprocessing_fn,
      custom_config=family_settings,
      # Pre/post-transform statistics double Transform's time; StatisticsGen has them.
      disable_statistics=True,
      # TFT writes its analyzer cache's MANIFEST as a pickle (protocol 0), which loading
      # would execute; nothing here reads the cache back.
      disable_analyzer_cache=True)
  leakage_check = LeakageCheck(
      examples=example_gen.outputs['examples'], label_key=family.label_key,
      max_fraction=config.data.max_leakage, data_location=deployment.data_location,
      feature_keys=json.dumps(config.model.features.all()),
      group_key=safe_column(config.data.split_by) if config.data.split_by else '',
      classes=json.dumps(list(family.class_names)),
      code_fingerprint=component_fingerprint('components.leakage_check.component'))
  # The gate first: too few rows or bad values explain a run better than the label's classes.
  leakage_check.add_upstream_node(validation_gate)
  transform.add_upstream_node(leakage_check)
  training = config.training
  training_config = {
      # The steps travel in train_args/eval_args (a Kubeflow run parameter may set them).
      'training': training.model_dump(mode='json', exclude={'train_steps', 'eval_steps'}),
      'hparams': config.model.hparams,
      # Checkpoints for BackupAndRestore, stable across re-runs of the same inputs.
      'backup_root': f'{deployment.pipeline_root}/Trainer/backups',
      **family_settings,
  }
  tuning_components = []
  if config.tuning.enabled:
    tuner = Tuner(
        tuner_fn=family.tuner_fn,
        examples=transform.outputs['transformed_examples'],
        transform_graph=transform.outputs['transform_graph'],
        schema=schema_gen.outputs['schema'],
        train_args={'num_steps': config.tuning.train_steps},
        eval_args={'num_steps': config.tuning.eval_steps},
        custom_config={**training_config, 'tuning': config.tuning.model_dump(mode='json')})
    tuning_components.append(tuner)
  trainer = Trainer(
      run_fn=family.run_fn,
      examples=transform.outputs['transformed_examples'],
      transform_graph=transform.outputs['transform_graph'],
      schema=schema_gen.outputs['schema'],
      hyperparameters=(tuner.outputs['best_hyperparameters'] if tuning_components else None),
      train_args=deployment.train_args,
      eval_args={'num_steps': training.eval_steps},
      custom_config=training_config)
  if deployment.trainer_resources is not None:
    trainer.with_platform_config(deployment.trainer_resources)
  baseline = _baseline(deployment, config, trainer)
  evaluator = Evaluator(
      examples=example_gen.outputs['examples'],
      model=trainer.outputs['model'],
      baseline_model=(baseline.outputs['model'] if deployment.baseline_strategy
                      else baseline.outputs['baseline_model']),
      eval_config=eval_config(family, config.gates))
  pusher = ServingPusher(
      model=trainer.outputs['model'],
      model_blessing=evaluator.outputs['blessing'],
      examples=example_gen.outputs['examples'],
      serving_dir=deployment.serving_dir,
      model_name=config.model_name,
      label_key=family.label_key).with_id('Pusher')
  mobile_components = (
      _mobile_components(config, deployment, family, family_settings, example_gen, transform,
                         trainer, evaluator) if config.optimization.enabled else [])
  optimizer, mobile_pusher = (mobile_components[-2:] if mobile_components else (None, None))
  model_card = ModelCard(
      pushed_model=pusher.outputs['pushed_model'],
      model_blessing=evaluator.outputs['blessing'],
      model_evaluation=evaluator.outputs['evaluation'],
      model=trainer.outputs['model'], model_run=trainer.outputs['model_run'],
      statistics=statistics_gen.outputs['statistics'], schema=schema_gen.outputs['schema'],
      examples=example_gen.outputs['examples'], training_examples=training_examples,
      pushed_mobile_model=(mobile_pusher.outputs['pushed_mobile_model'] if mobile_pusher
                           else None),
      optimization_report=optimizer.outputs['report'] if optimizer else None,
      settings=to_exec_property(
          config.model_card, model_name=config.model_name, pipeline_name=config.pipeline.name,
          family=family.name, task=family.task, classes=list(family.class_names),
          gates=config.gates.model_dump(mode='json'), data_location=deployment.data_location,
          train_steps=config.training.train_steps))
  return Pipeline(
      pipeline_name=config.pipeline.name,
      pipeline_root=deployment.pipeline_root,
      components=[example_gen, statistics_gen, schema_gen, example_validator,
                  *drift_components, validation_gate,
                  leakage_check, *span_window, transform, *tuning_components, trainer,
                  baseline, evaluator, pusher, *mobile_components, model_card],
      enable_cache=True,
      metadata_connection_config=deployment.metadata_connection_config,
      beam_pipeline_args=deployment.beam_args)
