"""`forge`: run a tfx-forge pipeline from its config.

Exit codes: 0 blessed and pushed (or unchanged, from the cache); 1 a component failed;
2 the config is invalid; 3 the data failed validation; 4 the model was not blessed.
"""
from pipeline import env  # noqa: F401  (must precede TensorFlow's import)

import argparse
import os
import sys
from typing import List, Optional

from pipeline.config import OVERRIDABLE, ConfigError, load_config

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_DATA, EXIT_NOT_BLESSED = 0, 1, 2, 3, 4


def _parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(prog='forge', description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  commands = parser.add_subparsers(dest='command', required=True)
  run = commands.add_parser('run', help='run a pipeline locally (LocalDagRunner + Beam)')
  run.add_argument('config', help='pipeline config (YAML), e.g. configs/penguin.yaml')
  run.add_argument('--verbose', action='store_true',
                   help='show TensorFlow, Beam and TFX logs on the console')
  overrides = run.add_argument_group('config overrides')
  for flag, key in OVERRIDABLE.items():
    overrides.add_argument('--' + flag.replace('_', '-'), dest=flag, metavar='VALUE',
                           help=f'overrides {key}')
  return parser


def _print_summary(local_run) -> int:
  summary = local_run.summary
  print(f'\nRun finished in {local_run.seconds:.1f} s; logs: {local_run.log_path}')
  if local_run.error is not None:
    from components.validation_gate.executor import DataValidationError
    print(f'\nFAILED in {local_run.failed_component or "the pipeline"}:\n{local_run.error}')
    return EXIT_DATA if isinstance(local_run.error, DataValidationError) else EXIT_FAILED
  if summary.metrics:
    figures = ', '.join(f'{name} {value:.4f}' for name, value in sorted(summary.metrics.items()))
    print(f'Eval metrics: {figures}')
  cached = len(summary.states) - len(summary.executed)
  print(f'Components executed: {len(summary.executed)}, from cache: {cached}')
  if summary.blessed:
    print(f'Blessed. Pushed to {summary.pushed_to}' if summary.pushed_to else
          'Blessed; this model was already pushed by an earlier run.')
    return EXIT_OK
  print('NOT blessed, nothing pushed. Failed gates:')
  for failure in summary.gate_failures or ['(no evaluation result)']:
    print(f'  {failure}')
  return EXIT_NOT_BLESSED


def main(argv: Optional[List[str]] = None) -> int:
  args = _parser().parse_args(argv)
  overrides = {key: getattr(args, flag) for flag, key in OVERRIDABLE.items()
               if getattr(args, flag) is not None}
  try:
    config = load_config(args.config, overrides)
  except ConfigError as err:
    print(f'Config error: {err}', file=sys.stderr)
    return EXIT_CONFIG
  if args.verbose:
    os.environ['TF_CPP_MIN_LOG_LEVEL'] = '0'
  from pipeline.pipeline import curated_schema  # imports TensorFlow: after the config is checked
  from pipeline.runner import run_locally
  print(f'Running pipeline {config.pipeline.name!r} ({config.model.family} model), '
        f'root {config.pipeline.root}')
  schema = curated_schema(config)
  print(f'Schema: {schema}' if schema else
        'Schema: inferred by SchemaGen from this data, so validation cannot catch bad values. '
        'Review the inferred schema.pbtxt under the pipeline root and save it as '
        'schemas/<dataset>/schema.pbtxt (or set data.schema) to validate later runs.')
  return _print_summary(run_locally(config, verbose=args.verbose))


if __name__ == '__main__':
  sys.exit(main())
