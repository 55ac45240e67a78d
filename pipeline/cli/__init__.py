"""`forge`: run a tfx-forge pipeline from its config, here or on Kubeflow Pipelines.

Exit codes: 0 blessed and pushed (or unchanged, from the cache); 1 a component failed;
2 the config is invalid; 3 the data failed validation; 4 the model was not blessed;
5 the model failed the pre-push serving check (not pushed); 6 blessed and pushed to
serving, but no TFLite variant met its budgets (nothing pushed to mobile); 130 stopped by
SIGTERM or Ctrl-C.

One module per command group (run.py, serve.py, kfp.py, init.py); each registers its
commands with the function that runs them.
"""
from base import env  # noqa: F401  (must precede TensorFlow's import)

import argparse
import logging
import os
import sys
from typing import List, Optional

from pipeline.cli import init, kfp, run, serve
from pipeline.cli.common import (EXIT_CONFIG, EXIT_DATA, EXIT_FAILED, EXIT_NO_MOBILE,
                                 EXIT_NOT_BLESSED, EXIT_OK, EXIT_SERVING)
from pipeline.config import OVERRIDABLE, ConfigError, load_config

__all__ = ['main', 'entry', 'EXIT_OK', 'EXIT_FAILED', 'EXIT_CONFIG', 'EXIT_DATA',
           'EXIT_NOT_BLESSED', 'EXIT_SERVING', 'EXIT_NO_MOBILE']


def _parser() -> argparse.ArgumentParser:
  # The docstring's first two paragraphs: what forge is, and its exit codes.
  parser = argparse.ArgumentParser(prog='forge',
                                   description='\n\n'.join(__doc__.split('\n\n')[:2]),
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.set_defaults(needs_config=True, quiet_tensorflow=True)
  commands = parser.add_subparsers(dest='command', required=True)
  for group in (run, kfp, serve, init):
    group.register(commands)
  return parser


def main(argv: Optional[List[str]] = None) -> int:
  args = _parser().parse_args(argv)
  if not args.needs_config:
    return args.func(args)
  if args.quiet_tensorflow:  # `run` sends these logs to its log file instead
    logging.getLogger('tensorflow').setLevel(logging.ERROR)
  overrides = {key: getattr(args, flag) for flag, key in OVERRIDABLE.items()
               if getattr(args, flag) is not None}
  try:
    return args.func(args, load_config(args.config, overrides))
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
