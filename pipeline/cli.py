"""`forge`: run a tfx-forge pipeline from its config, here or on Kubeflow Pipelines.

Exit codes: 0 blessed and pushed (or unchanged, from the cache); 1 a component failed;
2 the config is invalid; 3 the data failed validation; 4 the model was not blessed;
5 the model failed the pre-push serving check (not pushed); 6 blessed and pushed to
serving, but no TFLite variant met its budgets (nothing pushed to mobile).
"""
from base import env  # noqa: F401  (must precede TensorFlow's import)

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import List, Optional

from pipeline.config import OVERRIDABLE, ConfigError, load_config

(EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_DATA, EXIT_NOT_BLESSED, EXIT_SERVING,
 EXIT_NO_MOBILE) = range(7)


def _add_config_arguments(command: argparse.ArgumentParser) -> None:
  command.add_argument('config', help='pipeline config (YAML), e.g. configs/penguin.yaml')
  overrides = command.add_argument_group('config overrides')
  for flag, key in OVERRIDABLE.items():
    # Both spellings: --pipeline-name, and --pipeline_name as the tfx CLI writes it.
    spellings = dict.fromkeys(['--' + flag.replace('_', '-'), '--' + flag])
    overrides.add_argument(*spellings, dest=flag, metavar='VALUE', help=f'overrides {key}')


def _delimiter(value: str) -> str:
  value = '\t' if value in ('tab', '\\t') else value
  if value not in (',', ';', '|', '\t'):
    raise argparse.ArgumentTypeError(f"{value!r}: use ',', ';', '|' or tab")
  return value


def _parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(prog='forge', description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  commands = parser.add_subparsers(dest='command', required=True)
  run = commands.add_parser('run', help='run a pipeline here (LocalDagRunner + Beam)')
  _add_config_arguments(run)
  run.add_argument('--verbose', action='store_true',
                   help='show TensorFlow, Beam and TFX logs on the console')
  run.add_argument('--engine', choices=['local', 'kubeflow'], default='local',
                   help="as in `tfx run create`: local runs here; kubeflow is `forge submit`")
  run.add_argument('--endpoint', help='--engine kubeflow: the KFP API endpoint')
  compile_ = commands.add_parser(
      'compile', help='compile for Kubeflow Pipelines: KFP v2 spec + TF Serving manifests')
  _add_config_arguments(compile_)
  compile_.add_argument('--target', choices=['kubeflow'], default='kubeflow')
  compile_.add_argument('--output-dir', type=Path,
                        help='default: build/kubeflow/<pipeline name>')
  submit = commands.add_parser('submit', help='compile, then start a run on Kubeflow Pipelines')
  _add_config_arguments(submit)
  submit.add_argument('--host', required=True, help='KFP API endpoint, e.g. http://localhost:8080')
  submit.add_argument('--experiment', default='tfx-forge')
  submit.add_argument('--data-root', help='run parameter: bucket folder with the data')
  submit.add_argument('--output-dir', type=Path, help='default: build/kubeflow/<pipeline name>')
  submit.add_argument('--dry-run', action='store_true', help='print the request, send nothing')
  versions = commands.add_parser('versions', help='pushed versions with their metrics and run')
  _add_config_arguments(versions)
  rollback = commands.add_parser('rollback', help='pin the served version in models.config')
  _add_config_arguments(rollback)
  target = rollback.add_mutually_exclusive_group(required=True)
  target.add_argument('--to', type=int, metavar='VERSION', help='serve only this version')
  target.add_argument('--latest', action='store_true', help='unpin: serve the newest versions')
  predict = commands.add_parser(
      'predict', help='predict CSV rows: with the pushed model here, or a running TF Serving')
  _add_config_arguments(predict)
  predict.add_argument('csv', type=Path, help='rows to predict, with the raw feature columns')
  server = predict.add_mutually_exclusive_group()
  server.add_argument('--grpc', metavar='HOST:PORT', help='gRPC endpoint, e.g. localhost:8500')
  server.add_argument('--rest', metavar='URL', help='REST endpoint, e.g. http://localhost:8501')
  predict.add_argument('--signature', default='serving_default',
                       choices=['serving_default', 'serving_raw'])
  report = commands.add_parser(
      'report', help="print the path of the latest run's HTML report (writes it if missing)")
  _add_config_arguments(report)
  report.add_argument('--open', action='store_true', help='open it in the default browser')
  runs = commands.add_parser('runs', help='past runs: time, status, blessed, key metric')
  _add_config_arguments(runs)
  lineage = commands.add_parser(
      'lineage', help='the data, schema, transform and trainer behind a pushed version')
  _add_config_arguments(lineage)
  lineage.add_argument('--version', type=int, required=True, help='see `forge versions`')
  tensorboard = commands.add_parser('tensorboard',
                                    help="print the command showing the Trainer's logs")
  _add_config_arguments(tensorboard)
  init = commands.add_parser(
      'init', help='a config (and schema) for your own table, or a copy of a model family',
      description='With --data and --label: profile the table and write schemas/NAME/'
      'schema.pbtxt and configs/NAME.yaml for the tabular family, in this directory (no '
      'Python to write). With --from: copy a code family to models/NAME/ and its config.')
  init.add_argument('name', help='the new pipeline (or family) name, e.g. my_model')
  init.add_argument('--data', type=Path, help='your table: a CSV file, a directory of CSVs, '
                    'or TFRecords of tf.Examples (--format tfrecord)')
  init.add_argument('--label', help='--data: the column to predict')
  init.add_argument('--task', choices=['classification', 'regression'],
                    help='--data: override the task inferred from the label')
  init.add_argument('--format', choices=['csv', 'tfrecord'], default='csv')
  init.add_argument('--delimiter', default=',', type=_delimiter,
                    help="--data: the CSV field separator: ',' (default), ';', '|' or tab")
  init.add_argument('--from', dest='source', help='family to copy (default penguin)')
  return parser


def _print_run_summary(local_run) -> int:
  summary = local_run.summary
  print(f'\nPipeline ran in {local_run.seconds:.1f} s; logs: {local_run.log_path}')
  if local_run.error is not None:
    from components.serving_pusher.check import ServingCheckError
    from components.common.errors import DataValidationError
    print(f'\nFAILED in {local_run.failed_component or "the pipeline"}:\n{local_run.error}')
    if isinstance(local_run.error, ServingCheckError):
      print('The model was not pushed; the served version is unchanged.')
      return EXIT_SERVING
    return EXIT_DATA if isinstance(local_run.error, DataValidationError) else EXIT_FAILED
  if summary.metrics:
    figures = ', '.join(f'{name} {value:.4f}' for name, value in sorted(summary.metrics.items()))
    print(f'Eval metrics: {figures}')
  if summary.drift:
    feature, (distance, threshold) = max(  # nearest its threshold
        summary.drift.items(), key=lambda item: item[1][0] / max(item[1][1], 1e-9))
    print(f'Drift against the data accepted last: {len(summary.drift)} columns compared, '
          f'largest {feature} {distance:.3f} (threshold {threshold:g})')
  cached = len(summary.states) - len(summary.executed)
  print(f'Components executed: {len(summary.executed)}, from cache: {cached}')
  if summary.privacy:
    spent = summary.privacy
    print(f'Differential privacy (DP-SGD): epsilon {spent["epsilon"]:.2f} at delta '
          f'{spent["delta"]:.2g} (noise multiplier {spent["noise_multiplier"]:g}, '
          f'{spent["steps"]} steps)')
  if summary.distillation is not None:
    print(f'Distillation: {describe_distillation(summary.distillation)}')
  if summary.optimization is not None:
    from components.model_optimizer import table
    print('TFLite variants (LiteRT interpreter, eval split):')
    print('\n'.join('  ' + line for line in table.lines(summary.optimization)))
  if summary.blessed:
    if summary.states.get('Pusher') == 'cached':
      print(f'Blessed; unchanged since an earlier run, which pushed it to {summary.pushed_to}')
    else:
      print(f'Blessed. Pushed to {summary.pushed_to}')
    return _print_mobile_push(summary)
  print('NOT blessed, nothing pushed. Failed gates:')
  for failure in summary.gate_failures or ['(no evaluation result)']:
    print(f'  {failure}')
  return EXIT_NOT_BLESSED


def describe_distillation(report) -> str:
  describe = lambda role: (f'{role} {report[role]["parameters"]:,} parameters, '
                           f'{report[role]["saved_model_bytes"] / 1024:.0f} KB SavedModel, '
                           f'eval accuracy {report[role]["accuracy"]:.4f}')
  return f'{describe("teacher")}; {describe("student")}'


def _print_mobile_push(summary) -> int:
  if summary.optimization is None:
    return EXIT_OK
  selected = summary.optimization['selected']
  if selected and summary.mobile_pushed_to:
    print(f'Mobile: {selected} pushed to {summary.mobile_pushed_to}')
    return EXIT_OK
  print('Mobile: nothing pushed; no TFLite variant met its budgets (see "missed" above).')
  return EXIT_NO_MOBILE


def _run(args, config) -> int:
  if args.verbose:
    os.environ['TF_CPP_MIN_LOG_LEVEL'] = '0'
  if config.data.path is not None:
    from pipeline.preflight import DataFileError, check
    try:
      check(config.data.path, config.data.format, config.data.delimiter)
    except DataFileError as err:
      print(f'Data error: {err}\nNothing was run; the served model is unchanged.',
            file=sys.stderr)
      return EXIT_DATA
  from pipeline.pipeline import curated_schema  # imports TensorFlow: after the config is checked
  from pipeline.runner import PipelineBusyError, run_locally
  if config.training.strategy.logical_cpus:
    from models.common.worker import split_cpu
    split_cpu(config.training.strategy.logical_cpus)
  print(f'Running pipeline {config.pipeline.name!r} ({config.model.family} model), '
        f'root {config.pipeline.root}')
  schema = curated_schema(config)
  print(f'Schema: {schema}' if schema else
        'Schema: inferred by SchemaGen from this data, so validation cannot catch bad values. '
        'Review the inferred schema.pbtxt under the pipeline root and save it as '
        'schemas/<dataset>/schema.pbtxt (or set data.schema) to validate later runs.')
  try:
    local_run = run_locally(config, verbose=args.verbose)
  except PipelineBusyError as err:
    print(f'Refused: {err}', file=sys.stderr)
    return EXIT_FAILED
  exit_code = _print_run_summary(local_run)
  if local_run.summary is not None:
    _write_report(config, local_run.summary.run_id,
                  None if local_run.error is None else str(local_run.error))
  return exit_code


def _write_report(config, run_id: str, error: Optional[str]) -> None:
  import time
  from pipeline.report import page
  started = time.monotonic()
  try:
    path = page.write(config, run_id, error)
    print(f'Report: {path} ({time.monotonic() - started:.1f} s)')
  except Exception as err:  # noqa: BLE001  (the run's outcome stands without its report)
    print(f'Report not written: {err!r}', file=sys.stderr)


def _report(args, config) -> int:
  from pipeline.report import page
  try:
    path = page.write(config)
  except (FileNotFoundError, LookupError) as err:
    print(f'No report: {err}', file=sys.stderr)
    return EXIT_FAILED
  print(path)
  if args.open:
    import webbrowser
    webbrowser.open(path.as_uri())
  return EXIT_OK


def _runs(config) -> int:
  from pipeline.history import runs
  blessed = {True: 'blessed', False: 'not blessed', None: '-'}
  for row in runs(config.metadata_path, list(config.gates.metrics)):
    pushed = f'pushed {row.pushed_version}' if row.pushed_version else ''
    print(f'{row.run_id}  {row.status:11}  {blessed[row.blessed]:11}  '
          f'{row.metric:32}  {pushed}'.rstrip())
  return EXIT_OK


# What `forge lineage` shows of each execution and artifact (the rest is in ML Metadata).
_LINEAGE_PROPERTIES = ('input_base', 'schema_file', 'data_location', 'pushed_destination',
                       'span', 'input_fingerprint', 'blessed')


def _lineage(args, config) -> int:
  from pipeline.history import lineage
  try:
    steps = lineage(config.metadata_path, args.version)
  except LookupError as err:
    print(f'Cannot trace: {err}', file=sys.stderr)
    return EXIT_FAILED
  print(f'Version {args.version} of {config.model_name}, newest step first:')
  for step in steps:
    settings = ', '.join(f'{k}={v}' for k, v in step.properties.items()
                         if k in _LINEAGE_PROPERTIES)
    print(f'{step.node} (execution {step.execution_id}){": " + settings if settings else ""}')
    for key, artifacts in sorted(step.outputs.items()):
      for artifact in artifacts:
        extra = ', '.join(
            f'{k}={v.string_value or v.int_value}' for k, v in artifact.custom_properties.items()
            if k in _LINEAGE_PROPERTIES)
        print(f'  {key}: {artifact.uri}{" (" + extra + ")" if extra else ""}')
  return EXIT_OK


def _tensorboard(config) -> int:
  logs = config.pipeline.root.resolve() / 'Trainer' / 'model_run'
  if not logs.is_dir():
    print(f'{logs}: no Trainer logs yet; run the pipeline first', file=sys.stderr)
    return EXIT_FAILED
  tensorboard = Path(sys.executable).parent / 'tensorboard'
  print(f'{tensorboard} --logdir {logs}')
  return EXIT_OK


def _init_from_data(args) -> int:
  if not args.label:
    print('Cannot init: --data needs --label COLUMN, the column to predict.', file=sys.stderr)
    return EXIT_CONFIG
  from pipeline import table_init
  from pipeline.preflight import DataFileError
  print(f'Reading {args.data} ...')
  try:
    written, found = table_init.init_from_data(args.name, args.data, args.label, args.task,
                                               args.format, args.delimiter)
  except (table_init.InitError, DataFileError) as err:
    print(f'Cannot init: {err}', file=sys.stderr)
    return EXIT_CONFIG
  print('\n'.join(table_init.describe(found)))
  if args.format == 'csv':
    from pipeline.preflight import renamed_columns
    renamed = renamed_columns(table_init.csv_header(args.data, args.delimiter))
    if renamed:
      print('Read under names a model input can carry (serving clients use these): '
            + ', '.join(f'{old!r} -> {new!r}' for old, new in renamed))
  print('\n'.join(f'wrote {path}' for path in written))
  print(f'Next: review them, then `forge run configs/{args.name}.yaml`.')
  return EXIT_OK


def _init(args) -> int:
  if args.data is not None:
    if args.source:
      print('Cannot init: give --data (a table) or --from (a family to copy), not both.',
            file=sys.stderr)
      return EXIT_CONFIG
    return _init_from_data(args)
  from pipeline.scaffold import ScaffoldError, init
  try:
    written = init(args.name, args.source or 'penguin')
  except ScaffoldError as err:
    print(f'Cannot init: {err}', file=sys.stderr)
    return EXIT_CONFIG
  print('\n'.join(f'wrote {path}' for path in written))
  print(f'Next: point data.path in configs/{args.name}.yaml at your data, set the label and '
        f'features in models/{args.name}/features.py, then `forge run configs/{args.name}.yaml`.')
  return EXIT_OK


def _compile(args, config) -> Path:
  from kubeflow.runner import compile_pipeline
  from kubeflow.serving import write_manifests
  output_dir = args.output_dir or Path('build') / 'kubeflow' / config.pipeline.name
  spec = compile_pipeline(config, output_dir)
  manifests = write_manifests(config, output_dir / 'serving')
  print(f'KFP v2 pipeline spec: {spec}\nTF Serving manifests (kustomize): {manifests}')
  return spec


def _submit(args, config) -> int:
  from kubeflow.runner import (DATA_ROOT_PARAMETER, TRAIN_ARGS_PARAMETER, run_request, submit,
                               train_args_json)
  parameters = {}
  if args.data_root:
    parameters[DATA_ROOT_PARAMETER] = args.data_root
  if args.train_steps:
    parameters[TRAIN_ARGS_PARAMETER] = train_args_json(int(args.train_steps))
  request = run_request(config, _compile(args, config), args.host, args.experiment, parameters)
  if args.dry_run:
    print('Dry run; would send:\n' + json.dumps(request, indent=2))
    return EXIT_OK
  print(f'Started run {submit(request)} of {request["pipeline_name"]} on {args.host}')
  return EXIT_OK


def _versions(config) -> int:
  from components.serving_pusher import model_config
  from pipeline.summary import pushed_versions
  serving_dir = str(config.outputs.serving_dir.resolve())
  entry = [e for e in model_config.read(serving_dir).model_config_list.config
           if e.name == config.model_name]
  policy = entry[0].model_version_policy if entry else None
  pushed = pushed_versions(config.metadata_path)
  on_disk = [v.version for v in pushed
             if (config.outputs.serving_dir / config.model_name / str(v.version)).is_dir()]
  if policy is not None and policy.HasField('specific'):
    served = set(policy.specific.versions)
  else:
    served = set(sorted(on_disk)[-(policy.latest.num_versions if policy else 2):])
  for version in pushed:
    figures = ', '.join(f'{k} {v:.4f}' for k, v in sorted(version.metrics.items())
                        if k != 'example_count')
    state = 'served' if version.version in served else (
        'on disk' if version.version in on_disk else 'deleted')
    print(f'{version.version}  {state:8}  run {version.run_id}  {figures}')
  return EXIT_OK


def _rollback(args, config) -> int:
  from components.serving_pusher import model_config
  serving_dir = str(config.outputs.serving_dir.resolve())
  try:
    if args.latest:
      path = model_config.unpin(serving_dir, config.model_name, keep_versions=2)
      print(f'{path}: {config.model_name} serves its newest versions again')
    else:
      path = model_config.pin(serving_dir, config.model_name, args.to)
      print(f'{path}: {config.model_name} now serves only version {args.to}')
  except (FileNotFoundError, LookupError) as err:
    print(f'Cannot roll back: {err}', file=sys.stderr)
    return EXIT_FAILED
  return EXIT_OK


def _predict(args, config) -> int:
  from components.validation_gate.drift import read_schema
  from pipeline import predict
  from pipeline.summary import latest_schema_uri
  from models.common.family import load_family
  schema = read_schema(latest_schema_uri(config.metadata_path))
  family = load_family(config.model.family, config.model.family_spec())
  specs = predict.raw_specs(schema, family.label_key)
  try:
    examples = predict.examples_from_csv(args.csv, specs, config.data.delimiter)
  except ValueError as err:
    print(f'Cannot predict: {err}', file=sys.stderr)
    return EXIT_FAILED
  if args.grpc:
    rows = predict.predict_grpc(args.grpc, config.model_name, args.signature, examples, specs)
  elif args.rest:
    rows = predict.predict_rest(args.rest, config.model_name, args.signature, examples, specs)
  else:
    from pipeline.summary import pushed_versions
    pushed = pushed_versions(config.metadata_path)
    if not pushed:
      print(f'Cannot predict: {config.pipeline.name} has no pushed version yet; run '
            '`forge run` first, or pass --grpc/--rest for a running TF Serving.',
            file=sys.stderr)
      return EXIT_FAILED
    print(f'Model: {pushed[-1].path} (loaded here; --grpc/--rest send to TF Serving)',
          file=sys.stderr)
    rows = predict.predict_in_process(pushed[-1].path, args.signature, examples, specs)
  for number, row in enumerate(rows, start=1):
    print(json.dumps({'row': number, **row}))
  return EXIT_OK


def main(argv: Optional[List[str]] = None) -> int:
  args = _parser().parse_args(argv)
  if args.command == 'init':
    return _init(args)
  if args.command != 'run':  # `run` sends these logs to its log file instead
    logging.getLogger('tensorflow').setLevel(logging.ERROR)
  overrides = {key: getattr(args, flag) for flag, key in OVERRIDABLE.items()
               if getattr(args, flag) is not None}
  try:
    config = load_config(args.config, overrides)
    if args.command == 'run' and args.engine == 'kubeflow':
      if not args.endpoint:
        raise ConfigError('--engine kubeflow needs --endpoint (the KFP API, e.g. '
                          'http://localhost:8080)')
      return _submit(argparse.Namespace(**vars(args), host=args.endpoint, experiment='tfx-forge',
                                        data_root=None, output_dir=None, dry_run=False), config)
    if args.command == 'run':
      return _run(args, config)
    if args.command == 'report':
      return _report(args, config)
    if args.command == 'runs':
      return _runs(config)
    if args.command == 'lineage':
      return _lineage(args, config)
    if args.command == 'tensorboard':
      return _tensorboard(config)
    if args.command == 'compile':
      _compile(args, config)
      return EXIT_OK
    if args.command == 'versions':
      return _versions(config)
    if args.command == 'rollback':
      return _rollback(args, config)
    if args.command == 'predict':
      return _predict(args, config)
    return _submit(args, config)
  except ConfigError as err:
    print(f'Config error: {err}', file=sys.stderr)
    return EXIT_CONFIG


def entry() -> None:
  """The `forge` command. It ends without Python's interpreter teardown, which takes 3-4 s
  once TensorFlow, Beam and TFX are loaded (measured on the taxi run) and has nothing left
  to do: artifacts and ML Metadata are written by then, and the output is flushed here."""
  code = main()
  logging.shutdown()
  sys.stdout.flush()
  sys.stderr.flush()
  os._exit(code)  # pylint: disable=protected-access


if __name__ == '__main__':
  entry()
