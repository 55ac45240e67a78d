"""create_pipeline(config): the one TFX pipeline definition both runners use."""
from __future__ import annotations

from pathlib import Path

import tfx.v1 as tfx
from tfx.types import standard_artifacts

from components.baseline_resolver.strategy import LatestBlessedOtherModelStrategy
from components.validation_gate.component import DataValidationGate
from models.common.family import load_family
from pipeline import datasets
from pipeline.config import ForgeConfig
from pipeline.evaluation import eval_config

PROJECT_DIR = Path(__file__).resolve().parent.parent
HASH_BUCKETS = 100


def curated_schema(config: ForgeConfig) -> Path | None:
  """The schema to import instead of inferring one: data.schema, else
  schemas/<dataset>/schema.pbtxt when the project has one."""
  if config.data.schema_path is not None:
    return config.data.schema_path.resolve()
  dataset = config.data.dataset or config.data.builtin
  candidate = PROJECT_DIR / 'schemas' / str(dataset) / 'schema.pbtxt'
  return candidate if dataset and candidate.is_file() else None


def _example_gen(source: datasets.DataSource, eval_fraction: float):
  eval_buckets = max(1, round(HASH_BUCKETS * eval_fraction))
  splits = tfx.proto.Output(split_config=tfx.proto.SplitConfig(splits=[
      tfx.proto.SplitConfig.Split(name='train', hash_buckets=HASH_BUCKETS - eval_buckets),
      tfx.proto.SplitConfig.Split(name='eval', hash_buckets=eval_buckets),
  ]))
  inputs = tfx.proto.Input(splits=[tfx.proto.Input.Split(name='all', pattern=source.pattern)])
  component = (tfx.components.CsvExampleGen if source.format == 'csv'
               else tfx.components.ImportExampleGen)
  return component(input_base=str(source.input_base), input_config=inputs, output_config=splits)


def create_pipeline(config: ForgeConfig) -> tfx.dsl.Pipeline:
  family = load_family(config.model.family)
  root = config.pipeline.root.resolve()
  source = datasets.resolve(config.data.builtin, config.data.path, config.data.format,
                            root / 'data')
  example_gen = _example_gen(source, config.data.eval_fraction)
  statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs['examples'])
  schema_file = curated_schema(config)
  if schema_file is not None:
    schema_gen = tfx.components.ImportSchemaGen(schema_file=str(schema_file))
  else:
    schema_gen = tfx.components.SchemaGen(
        statistics=statistics_gen.outputs['statistics'], infer_feature_shape=True)
  example_validator = tfx.components.ExampleValidator(
      statistics=statistics_gen.outputs['statistics'], schema=schema_gen.outputs['schema'])
  validation_gate = DataValidationGate(
      anomalies=example_validator.outputs['anomalies'],
      data_location=str(source.input_base / source.pattern),
      schema_location=str(schema_file or 'the schema inferred by SchemaGen'))
  transform = tfx.components.Transform(
      examples=example_gen.outputs['examples'],
      schema=schema_gen.outputs['schema'],
      preprocessing_fn=family.preprocessing_fn,
      # Pre/post-transform statistics double Transform's time; StatisticsGen has them.
      disable_statistics=True)
  transform.add_upstream_node(validation_gate)
  training = config.training
  trainer = tfx.components.Trainer(
      run_fn=family.run_fn,
      examples=transform.outputs['transformed_examples'],
      transform_graph=transform.outputs['transform_graph'],
      schema=schema_gen.outputs['schema'],
      train_args=tfx.proto.TrainArgs(num_steps=training.train_steps),
      eval_args=tfx.proto.EvalArgs(num_steps=training.eval_steps),
      custom_config={
          'epochs': training.epochs,
          'batch_size': training.batch_size,
          'learning_rate': training.learning_rate,
          'hparams': config.model.hparams,
      })
  baseline_resolver = tfx.dsl.Resolver(
      strategy_class=LatestBlessedOtherModelStrategy,
      model=tfx.dsl.Channel(type=standard_artifacts.Model),
      model_blessing=tfx.dsl.Channel(type=standard_artifacts.ModelBlessing),
      candidate=trainer.outputs['model'],
  ).with_id('latest_blessed_model_resolver')
  evaluator = tfx.components.Evaluator(
      examples=example_gen.outputs['examples'],
      model=trainer.outputs['model'],
      baseline_model=baseline_resolver.outputs['model'],
      eval_config=eval_config(family, config.gates))
  pusher = tfx.components.Pusher(
      model=trainer.outputs['model'],
      model_blessing=evaluator.outputs['blessing'],
      push_destination=tfx.proto.PushDestination(
          filesystem=tfx.proto.PushDestination.Filesystem(
              base_directory=str(config.outputs.serving_dir.resolve() / config.model_name))))
  return tfx.dsl.Pipeline(
      pipeline_name=config.pipeline.name,
      pipeline_root=str(root),
      components=[example_gen, statistics_gen, schema_gen, example_validator, validation_gate,
                  transform, trainer, baseline_resolver, evaluator, pusher],
      enable_cache=True,
      metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
          str(config.metadata_path.resolve())),
      beam_pipeline_args=config.beam.args)
