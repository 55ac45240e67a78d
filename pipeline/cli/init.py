"""`forge init`: a config and schema for your own table, or a copy of a model family."""
import argparse
import sys
from pathlib import Path

from pipeline.cli.common import EXIT_CONFIG, EXIT_OK


def register(commands) -> None:
  init_parser = commands.add_parser(
      'init', help='a config (and schema) for your own table, or a copy of a model family',
      description='With --data and --label: profile the table and write schemas/NAME/'
      'schema.pbtxt and configs/NAME.yaml for the tabular family, in this directory (no '
      'Python to write). With --from: copy a code family to models/NAME/ and its config.')
  init_parser.add_argument('name', help='the new pipeline (or family) name, e.g. my_model')
  init_parser.add_argument('--data', type=Path, help='your table: a CSV file, a directory of '
                           'CSVs, or TFRecords of tf.Examples (--format tfrecord)')
  init_parser.add_argument('--label', help='--data: the column to predict')
  init_parser.add_argument('--task', choices=['classification', 'regression'],
                           help='--data: override the task inferred from the label')
  init_parser.add_argument('--format', choices=['csv', 'tfrecord'], default='csv')
  init_parser.add_argument('--delimiter', default=',', type=_delimiter,
                           help="--data: the CSV field separator: ',' (default), ';', '|' or tab")
  init_parser.add_argument('--from', dest='source', help='family to copy (default penguin)')
  # No config to read: the command writes one.
  init_parser.set_defaults(func=init, needs_config=False)


def _delimiter(value: str) -> str:
  value = '\t' if value in ('tab', '\\t') else value
  if value not in (',', ';', '|', '\t'):
    raise argparse.ArgumentTypeError(f"{value!r}: use ',', ';', '|' or tab")
  return value


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


def init(args) -> int:
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

