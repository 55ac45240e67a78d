"""The served model: `versions`, `rollback`, `predict`, `serving-files`."""
import json
import sys
from pathlib import Path

from pipeline.cli.common import EXIT_FAILED, EXIT_OK, add_config_arguments


def register(commands) -> None:
  versions_parser = commands.add_parser('versions',
                                        help='pushed versions with their metrics and run')
  add_config_arguments(versions_parser)
  versions_parser.set_defaults(func=versions)
  rollback_parser = commands.add_parser('rollback',
                                        help='pin the served version in models.config')
  add_config_arguments(rollback_parser)
  target = rollback_parser.add_mutually_exclusive_group(required=True)
  target.add_argument('--to', type=int, metavar='VERSION', help='serve only this version')
  target.add_argument('--latest', action='store_true', help='unpin: serve the newest versions')
  rollback_parser.set_defaults(func=rollback)
  predict_parser = commands.add_parser(
      'predict', help='predict CSV rows: with the pushed model here, or a running TF Serving')
  add_config_arguments(predict_parser)
  predict_parser.add_argument('csv', type=Path,
                              help='rows to predict, with the raw feature columns')
  server = predict_parser.add_mutually_exclusive_group()
  server.add_argument('--grpc', metavar='HOST:PORT', help='gRPC endpoint, e.g. localhost:8500')
  server.add_argument('--rest', metavar='URL', help='REST endpoint, e.g. http://localhost:8501')
  predict_parser.add_argument('--signature', default='serving_default',
                              choices=['serving_default', 'serving_raw'])
  predict_parser.set_defaults(func=predict)
  files_parser = commands.add_parser(
      'serving-files', help="TF Serving's monitoring and batching files, a Prometheus config, "
      'alerting rules and a Grafana dashboard, for a server outside Kubernetes')
  add_config_arguments(files_parser)
  files_parser.add_argument('dir', type=Path, help='where to write them')
  files_parser.add_argument('--target', action='append', metavar='HOST:PORT',
                            help="the server's REST address to scrape (default localhost:8501; "
                            'repeat for more servers)')
  files_parser.set_defaults(func=serving_files)
  card_parser = commands.add_parser('card', help="a pushed version's model card (HTML)")
  add_config_arguments(card_parser)
  card_parser.add_argument('--version', type=int, help='see `forge versions` (default: newest)')
  card_parser.add_argument('--open', action='store_true', help='open it in the default browser')
  card_parser.set_defaults(func=card)


def versions(args, config) -> int:
  del args
  from components.serving_pusher import model_config
  from pipeline.summary import pushed_versions
  serving_dir = str(config.outputs.serving_dir.resolve())
  pushed = pushed_versions(config.metadata_path)
  on_disk = [v.version for v in pushed
             if (config.outputs.serving_dir / config.model_name / str(v.version)).is_dir()]
  served = model_config.served_versions(serving_dir, config.model_name, on_disk)
  for version in pushed:
    figures = ', '.join(f'{k} {v:.4f}' for k, v in sorted(version.metrics.items())
                        if k != 'example_count')
    state = 'served' if version.version in served else (
        'on disk' if version.version in on_disk else 'deleted')
    print(f'{version.version}  {state:8}  run {version.run_id}  {figures}')
  return EXIT_OK


def rollback(args, config) -> int:
  from components.serving_pusher import model_config
  serving_dir = str(config.outputs.serving_dir.resolve())
  try:
    if args.latest:
      path = model_config.unpin(serving_dir, config.model_name)
      print(f'{path}: {config.model_name} serves its newest versions again')
    else:
      path = model_config.pin(serving_dir, config.model_name, args.to)
      print(f'{path}: {config.model_name} now serves only version {args.to}')
  except (FileNotFoundError, LookupError) as err:
    print(f'Cannot roll back: {err}', file=sys.stderr)
    return EXIT_FAILED
  return EXIT_OK


def predict(args, config) -> int:
  from components.common.statistics import read_schema
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



def serving_files(args, config) -> int:
  from kubeflow import monitoring
  written = monitoring.write_serving_files(config, args.dir, args.target)
  for path in written.values():
    print(path)
  print('tensorflow_model_server flags: '
        + ' '.join(monitoring.server_flags(config, str(args.dir.resolve()))))
  return EXIT_OK


def card(args, config) -> int:
  from components.model_card.executor import ASSETS_EXTRA, CARD_HTML
  from pipeline.summary import pushed_versions
  pushed = pushed_versions(config.metadata_path) if config.metadata_path.is_file() else []
  chosen = [v for v in pushed if args.version in (None, v.version)]
  if not chosen:
    print(f'No model card: {config.pipeline.name} has no pushed version'
          + (f' {args.version} (see `forge versions`)' if args.version else ' yet'),
          file=sys.stderr)
    return EXIT_FAILED
  path = Path(chosen[-1].path) / ASSETS_EXTRA / CARD_HTML
  if not path.is_file():
    print(f'No model card at {path}: version {chosen[-1].version} was pushed before model '
          'cards were written, or its folder was removed.', file=sys.stderr)
    return EXIT_FAILED
  print(path)
  if args.open:
    import webbrowser
    webbrowser.open(path.as_uri())
  return EXIT_OK
