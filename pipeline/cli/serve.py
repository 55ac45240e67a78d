"""The served model: `versions`, `rollback`, `predict`, `skew`, `serving-files`."""
import json
import sys
from pathlib import Path

from pipeline.cli.common import EXIT_DATA, EXIT_FAILED, EXIT_OK, add_config_arguments


def register(commands) -> None:
  versions_parser = commands.add_parser('versions',
                                        help='pushed versions with their metrics and run')
  add_config_arguments(versions_parser)
  versions_parser.set_defaults(func=versions)
  rollback_parser = commands.add_parser('rollback',
                                        help='pin the served version in models.config')
  add_config_arguments(rollback_parser)
  _manifests_argument(rollback_parser)
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
  predict_parser.add_argument('--label', metavar='LABEL',
                              help='a version label of the server, e.g. canary or stable')
  predict_parser.add_argument('--log', type=Path, metavar='DIR',
                              help='write each request and response there as PredictionLog '
                              'records (TFRecord), which `forge skew` reads')
  predict_parser.set_defaults(func=predict)
  skew_parser = commands.add_parser(
      'skew', help='compare logged requests with the training data (TFDV skew comparators)')
  add_config_arguments(skew_parser)
  skew_parser.add_argument('--requests', type=Path, required=True, metavar='PATH',
                           help='PredictionLog TFRecords or JSON lines of REST bodies '
                           '({"instances": [...]}), a file or a directory of them')
  skew_parser.set_defaults(func=skew)
  rollout_parser = commands.add_parser(
      'rollout', help='serve a canary version beside the stable one (version labels)')
  add_config_arguments(rollout_parser)
  rollout_parser.add_argument('--canary', type=int, required=True, metavar='VERSION',
                              help='the version to try (see `forge versions`)')
  rollout_parser.add_argument('--stable', type=int, metavar='VERSION',
                              help='default: the version labelled stable, else the pinned '
                              'one, else the newest pushed version below the canary')
  _manifests_argument(rollout_parser)
  rollout_parser.set_defaults(func=rollout)
  promote_parser = commands.add_parser('promote',
                                       help='make the canary the stable version, alone')
  add_config_arguments(promote_parser)
  _manifests_argument(promote_parser)
  promote_parser.set_defaults(func=promote)
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


def _manifests_argument(command) -> None:
  command.add_argument('--manifests', type=Path, metavar='DIR',
                       help="edit the models.config of these Kubernetes manifests (`forge "
                       "compile`'s serving/ folder; apply with kubectl apply -k DIR) instead "
                       'of the one in outputs.serving_dir')


def _models_config_dir(args, config) -> str:
  if args.manifests:
    return str(args.manifests.resolve())
  return str(config.outputs.serving_dir.resolve())


def versions(args, config) -> int:
  del args
  from components.serving_pusher import model_config
  from pipeline.summary import pushed_versions
  serving_dir = str(config.outputs.serving_dir.resolve())
  pushed = pushed_versions(config.metadata_path)
  on_disk = [v.version for v in pushed
             if (config.outputs.serving_dir / config.model_name / str(v.version)).is_dir()]
  served = model_config.served_versions(serving_dir, config.model_name, on_disk)
  labelled = {v: label for label, v in model_config.labels(serving_dir, config.model_name).items()}
  for version in pushed:
    figures = ', '.join(f'{k} {v:.4f}' for k, v in sorted(version.metrics.items())
                        if k != 'example_count')
    state = 'served' if version.version in served else (
        'on disk' if version.version in on_disk else 'deleted')
    label = f' ({labelled[version.version]})' if version.version in labelled else ''
    print(f'{version.version}  {state + label:17}  run {version.run_id}  {figures}')
  return EXIT_OK


def rollback(args, config) -> int:
  from components.serving_pusher import model_config
  serving_dir = _models_config_dir(args, config)
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


def rollout(args, config) -> int:
  from components.serving_pusher import model_config
  directory = _models_config_dir(args, config)
  try:
    labels = model_config.rollout(directory, config.model_name, args.canary, args.stable)
  except (FileNotFoundError, LookupError, ValueError) as err:
    print(f'Cannot roll out: {err}', file=sys.stderr)
    return EXIT_FAILED
  print(f'{directory}/{model_config.FILE_NAME}: {config.model_name} serves version '
        f'{labels[model_config.STABLE]} as stable and {labels[model_config.CANARY]} as canary '
        f'(/v1/models/{config.model_name}/labels/canary); `forge promote` makes the canary '
        'stable, `forge rollback --to VERSION` serves one version again')
  return EXIT_OK


def promote(args, config) -> int:
  from components.serving_pusher import model_config
  directory = _models_config_dir(args, config)
  try:
    version = model_config.promote(directory, config.model_name)
  except LookupError as err:
    print(f'Cannot promote: {err}', file=sys.stderr)
    return EXIT_FAILED
  print(f'{directory}/{model_config.FILE_NAME}: {config.model_name} serves only version '
        f'{version}, labelled stable')
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
  if args.label and not (args.grpc or args.rest):
    print('Cannot predict: --label names a version label of a running TF Serving; pass '
          '--grpc or --rest too.', file=sys.stderr)
    return EXIT_FAILED
  if args.grpc or args.rest:
    try:
      rows = predict.predict_server(args.grpc, args.rest, config.model_name, args.signature,
                                    examples, specs, label=args.label)
    except predict.ServerError as err:
      print(f'Cannot predict: {err}', file=sys.stderr)
      return EXIT_FAILED
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
  if args.log:
    path = predict.write_log(args.log, config.model_name, args.signature, examples, specs, rows,
                             label=args.label)
    print(f'Logged {len(rows)} requests to {path}', file=sys.stderr)
  return EXIT_OK


def skew(args, config) -> int:
  from pipeline import skew as skew_check
  from pipeline.report import skew as skew_page
  try:
    result = skew_check.check(config.metadata_path, args.requests)
  except skew_check.SkewError as err:
    print(f'Cannot check skew: {err}', file=sys.stderr)
    return EXIT_FAILED
  for line in skew_check.describe(result):
    print(line)
  print(f'Page: {skew_page.write(result, config.pipeline.root, config.model_name)}')
  return EXIT_OK if result.ok else EXIT_DATA



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
