"""`forge run` and what looks back at runs: `report`, `runs`, `lineage`, `tensorboard`."""
import os
import signal
import sys
from pathlib import Path
from typing import Optional

from pipeline.cli.common import (EXIT_DATA, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_NO_MOBILE,
                                 EXIT_NOT_BLESSED, EXIT_OK, EXIT_SERVING, add_config_arguments)


def register(commands) -> None:
  run_parser = commands.add_parser('run', help='run a pipeline here (LocalDagRunner + Beam)')
  add_config_arguments(run_parser)
  run_parser.add_argument('--verbose', action='store_true',
                          help='show TensorFlow, Beam and TFX logs on the console')
  run_parser.add_argument('--engine', choices=['local', 'kubeflow'], default='local',
                          help="as in `tfx run create`: local runs here; kubeflow is "
                          "`forge submit`")
  run_parser.add_argument('--endpoint', help='--engine kubeflow: the KFP API endpoint')
  run_parser.set_defaults(func=run, quiet_tensorflow=False)
  report_parser = commands.add_parser(
      'report', help="print the path of the latest run's HTML report (writes it if missing)")
  add_config_arguments(report_parser)
  report_parser.add_argument('--open', action='store_true', help='open it in the default browser')
  report_parser.set_defaults(func=report)
  runs_parser = commands.add_parser('runs', help='past runs: time, status, blessed, key metric')
  add_config_arguments(runs_parser)
  runs_parser.set_defaults(func=runs)
  lineage_parser = commands.add_parser(
      'lineage', help='the data, schema, transform and trainer behind a pushed version')
  add_config_arguments(lineage_parser)
  lineage_parser.add_argument('--version', type=int, required=True, help='see `forge versions`')
  lineage_parser.set_defaults(func=lineage)
  tensorboard_parser = commands.add_parser('tensorboard',
                                           help="print the command showing the Trainer's logs")
  add_config_arguments(tensorboard_parser)
  tensorboard_parser.set_defaults(func=tensorboard)
  watch_parser = commands.add_parser(
      'watch', help='run the pipeline whenever new data arrives (a new span, changed files)')
  add_config_arguments(watch_parser)
  watch_parser.add_argument('--interval', type=float, default=60.0, metavar='SECONDS',
                            help='seconds between polls of the data location (default 60)')
  watch_parser.add_argument('--max-runs', type=int, metavar='N',
                            help='stop after N polls (each runs the pipeline at most once)')
  watch_parser.set_defaults(func=watch)


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
  if summary.has_spans:
    from pipeline.history import describe_spans
    print(f'Trained on {describe_spans(summary)}; evaluated on span {summary.span}')
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


def _interrupt(signum, frame) -> None:
  raise KeyboardInterrupt


def run(args, config) -> int:
  if args.engine == 'kubeflow':
    from pipeline.cli import kfp
    return kfp.submit_from_run(args, config)
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
  from pipeline.schema import curated_schema
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
  # SIGTERM (forge watch stopping, a pod deleted) ends the run as Ctrl-C does: the finally
  # blocks remove staging folders and the lock goes with the process.
  signal.signal(signal.SIGTERM, _interrupt)
  try:
    local_run = run_locally(config, verbose=args.verbose)
  except PipelineBusyError as err:
    print(f'Refused: {err}', file=sys.stderr)
    return EXIT_FAILED
  except KeyboardInterrupt:
    print('\nStopped by a signal: the run ended where it was; no version was half-pushed.',
          file=sys.stderr)
    return EXIT_INTERRUPTED
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


def report(args, config) -> int:
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


def runs(args, config) -> int:
  del args
  from pipeline.history import runs
  blessed = {True: 'blessed', False: 'not blessed', None: '-'}
  for row in runs(config.metadata_path, list(config.gates.metrics)):
    pushed = f'pushed {row.pushed_version}' if row.pushed_version else ''
    print(f'{row.run_id}  {row.status:11}  {blessed[row.blessed]:11}  '
          f'{row.metric:32}  {row.spans:18}  {pushed}'.rstrip())
  return EXIT_OK


# What `forge lineage` shows of each execution and artifact (the rest is in ML Metadata).
_LINEAGE_PROPERTIES = ('input_base', 'schema_file', 'data_location', 'pushed_destination',
                       'span', 'input_fingerprint', 'blessed')


def lineage(args, config) -> int:
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


def tensorboard(args, config) -> int:
  del args
  logs = config.pipeline.root.resolve() / 'Trainer' / 'model_run'
  if not logs.is_dir():
    print(f'{logs}: no Trainer logs yet; run the pipeline first', file=sys.stderr)
    return EXIT_FAILED
  tensorboard = Path(sys.executable).parent / 'tensorboard'
  print(f'{tensorboard} --logdir {logs}')
  return EXIT_OK



def watch(args, config) -> int:
  from pipeline import watch as watching
  from pipeline.config import OVERRIDABLE
  overrides = [item for flag in OVERRIDABLE if getattr(args, flag) is not None
               for item in ('--' + flag.replace('_', '-'), str(getattr(args, flag)))]
  command = watching.run_command(Path(args.config), overrides)
  stopped = watching.Watch(config, command, args.interval, args.max_runs,
                           say=lambda line: print(line, flush=True)).run()
  return EXIT_INTERRUPTED if stopped else EXIT_OK
