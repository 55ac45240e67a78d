"""Kubeflow Pipelines: `compile` (KFP v2 spec and TF Serving manifests) and `submit`."""
import argparse
import json
from pathlib import Path

from pipeline.cli.common import EXIT_OK, add_config_arguments
from pipeline.config import ConfigError


def register(commands) -> None:
  compile_parser = commands.add_parser(
      'compile', help='compile for Kubeflow Pipelines: KFP v2 spec + TF Serving manifests')
  add_config_arguments(compile_parser)
  compile_parser.add_argument('--target', choices=['kubeflow'], default='kubeflow')
  compile_parser.add_argument('--output-dir', type=Path,
                              help='default: build/kubeflow/<pipeline name>')
  compile_parser.set_defaults(func=compile_command)
  submit_parser = commands.add_parser('submit',
                                      help='compile, then start a run on Kubeflow Pipelines')
  add_config_arguments(submit_parser)
  submit_parser.add_argument('--host', required=True,
                             help='KFP API endpoint, e.g. http://localhost:8080')
  submit_parser.add_argument('--experiment', default='tfx-forge')
  submit_parser.add_argument('--data-root', help='run parameter: bucket folder with the data')
  submit_parser.add_argument('--output-dir', type=Path,
                             help='default: build/kubeflow/<pipeline name>')
  submit_parser.add_argument('--dry-run', action='store_true',
                             help='print the request, send nothing')
  submit_parser.set_defaults(func=submit)


def compile_command(args, config) -> int:
  compile_spec(args, config)
  return EXIT_OK


def submit_from_run(args, config) -> int:
  """`forge run --engine kubeflow --endpoint URL`, as `tfx run create` spells a submit."""
  if not args.endpoint:
    raise ConfigError('--engine kubeflow needs --endpoint (the KFP API, e.g. '
                      'http://localhost:8080)')
  return submit(argparse.Namespace(**vars(args), host=args.endpoint, experiment='tfx-forge',
                                   data_root=None, output_dir=None, dry_run=False), config)


def compile_spec(args, config) -> Path:
  from kubeflow.runner import compile_pipeline
  from kubeflow.serving import write_manifests
  output_dir = args.output_dir or Path('build') / 'kubeflow' / config.pipeline.name
  spec = compile_pipeline(config, output_dir)
  manifests = write_manifests(config, output_dir / 'serving')
  print(f'KFP v2 pipeline spec: {spec}\nTF Serving manifests (kustomize): {manifests}')
  return spec


def submit(args, config) -> int:
  from kubeflow.runner import (DATA_ROOT_PARAMETER, TRAIN_ARGS_PARAMETER, run_request, submit,
                               train_args_json)
  parameters = {}
  if args.data_root:
    parameters[DATA_ROOT_PARAMETER] = args.data_root
  if args.train_steps:
    parameters[TRAIN_ARGS_PARAMETER] = train_args_json(int(args.train_steps))
  request = run_request(config, compile_spec(args, config), args.host, args.experiment, parameters)
  if args.dry_run:
    print('Dry run; would send:\n' + json.dumps(request, indent=2))
    return EXIT_OK
  print(f'Started run {submit(request)} of {request["pipeline_name"]} on {args.host}')
  return EXIT_OK

