"""Kubeflow Pipelines: `compile` (KFP spec and TF Serving manifests), `submit` (a run)
and `schedule` (a recurring run), for open-source KFP (--target kubeflow) or Vertex AI
Pipelines (--target vertex)."""
import argparse
import json
from pathlib import Path

from pipeline.cli.common import EXIT_OK, add_config_arguments
from pipeline.config import ConfigError


TARGET_HELP = ('kubeflow: open-source Kubeflow Pipelines 2.x (container steps only); '
               'vertex: Vertex AI Pipelines (TFX resolvers)')


def _target_argument(command) -> None:
  command.add_argument('--target', choices=['kubeflow', 'vertex'], default='kubeflow',
                       help=TARGET_HELP)


def _kfp_arguments(command) -> None:
  _target_argument(command)
  command.add_argument('--host', help='KFP API endpoint, e.g. http://localhost:8080 '
                       '(--target kubeflow)')
  command.add_argument('--project', help='Google Cloud project (--target vertex)')
  command.add_argument('--region', help='Vertex AI region, e.g. us-central1 (--target vertex)')
  command.add_argument('--experiment', default='tfx-forge')
  command.add_argument('--data-root', help='run parameter: bucket folder with the data')
  command.add_argument('--output-dir', type=Path, help='default: build/<target>/<pipeline name>')
  command.add_argument('--dry-run', action='store_true', help='print the request, send nothing')


def register(commands) -> None:
  compile_parser = commands.add_parser(
      'compile', help='compile for Kubeflow Pipelines: KFP v2 spec + TF Serving manifests')
  add_config_arguments(compile_parser)
  _target_argument(compile_parser)
  compile_parser.add_argument('--output-dir', type=Path,
                              help='default: build/<target>/<pipeline name>')
  compile_parser.set_defaults(func=compile_command)
  submit_parser = commands.add_parser('submit',
                                      help='compile, then start a run on Kubeflow Pipelines')
  add_config_arguments(submit_parser)
  _kfp_arguments(submit_parser)
  submit_parser.set_defaults(func=submit)
  schedule_parser = commands.add_parser(
      'schedule', help='compile, then create a recurring run on Kubeflow Pipelines (cron)')
  add_config_arguments(schedule_parser)
  _kfp_arguments(schedule_parser)
  schedule_parser.add_argument('--cron', required=True, metavar='EXPR',
                               help='when to run, e.g. "0 3 * * *" (03:00 daily)')
  schedule_parser.set_defaults(func=schedule)


def compile_command(args, config) -> int:
  compile_spec(args, config)
  return EXIT_OK


def submit_from_run(args, config) -> int:
  """`forge run --engine kubeflow --endpoint URL`, as `tfx run create` spells a submit."""
  if not args.endpoint:
    raise ConfigError('--engine kubeflow needs --endpoint (the KFP API, e.g. '
                      'http://localhost:8080)')
  return submit(argparse.Namespace(**vars(args), host=args.endpoint, experiment='tfx-forge',
                                   data_root=None, output_dir=None, dry_run=False,
                                   target='kubeflow', project=None, region=None), config)


def compile_spec(args, config) -> Path:
  from kubeflow.runner import compile_pipeline
  from kubeflow.serving import write_manifests
  target = getattr(args, 'target', 'kubeflow')
  output_dir = args.output_dir or Path('build') / target / config.pipeline.name
  spec = compile_pipeline(config, output_dir, target)
  manifests = write_manifests(config, output_dir / 'serving')
  print(f'Pipeline spec for {target} (schema 2.1.0): {spec}\n'
        f'TF Serving manifests (kustomize): {manifests}')
  return spec


def _run_request(args, config):
  from kubeflow.runner import (DATA_ROOT_PARAMETER, TRAIN_ARGS_PARAMETER, check_backend,
                               run_request, train_args_json)
  check_backend(args.target, args.host, args.project, args.region)
  parameters = {}
  if args.data_root:
    parameters[DATA_ROOT_PARAMETER] = args.data_root
  if args.train_steps:
    parameters[TRAIN_ARGS_PARAMETER] = train_args_json(int(args.train_steps))
  return run_request(config, compile_spec(args, config), args.host, args.experiment, parameters,
                     args.target, args.project, args.region)


def submit(args, config) -> int:
  from kubeflow.runner import submit as start_run
  request = _run_request(args, config)
  if args.dry_run:
    print('Dry run; would send:\n' + json.dumps(request, indent=2))
    return EXIT_OK
  where = args.host if args.target == 'kubeflow' else f'Vertex AI ({args.project}, {args.region})'
  print(f'Started run {start_run(request)} of {request["pipeline_name"]} on {where}')
  return EXIT_OK


def schedule(args, config) -> int:
  from kubeflow.runner import schedule as create_recurring_run, schedule_request
  request = schedule_request(_run_request(args, config), args.cron)
  if args.dry_run:
    print('Dry run; would send:\n' + json.dumps(request, indent=2))
    return EXIT_OK
  where = args.host if args.target == 'kubeflow' else f'Vertex AI ({args.project}, {args.region})'
  print(f'Created recurring run {create_recurring_run(request)} of {request["pipeline_name"]} '
        f'on {where} ({request["cron_expression"]})')
  return EXIT_OK
