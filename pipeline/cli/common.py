"""What every `forge` command shares: exit codes and the config argument with overrides."""
import argparse

from pipeline.config import OVERRIDABLE

(EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_DATA, EXIT_NOT_BLESSED, EXIT_SERVING,
 EXIT_NO_MOBILE) = range(7)
EXIT_INTERRUPTED = 130  # SIGTERM or Ctrl-C, as a shell reports SIGINT


def add_config_arguments(command: argparse.ArgumentParser) -> None:
  command.add_argument('config', help='pipeline config (YAML), e.g. configs/penguin.yaml')
  overrides = command.add_argument_group('config overrides')
  for flag, key in OVERRIDABLE.items():
    # Both spellings: --pipeline-name, and --pipeline_name as the tfx CLI writes it.
    spellings = dict.fromkeys(['--' + flag.replace('_', '-'), '--' + flag])
    overrides.add_argument(*spellings, dest=flag, metavar='VALUE', help=f'overrides {key}')
