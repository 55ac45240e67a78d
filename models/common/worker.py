"""Runs a model family's run_fn outside a TFX Trainer, on a finished Transform's outputs:
one worker of a multi-worker job (TF_CONFIG in its environment, same command on every
worker), or a Trainer re-run by hand.

  python -m models.common.worker --family penguin --transformed-examples URI \\
      --transform-graph URI --output DIR [--train-steps N] [--config JSON]

--config holds the config's training section as JSON, e.g.
'{"strategy": {"kind": "multi_worker_mirrored"}}'; unset keys take the config defaults.
"""
from base import env  # noqa: F401  (before TensorFlow)

import argparse
import json
import logging
import os
import sys

from base.settings import TrainingSection


def split_cpu(count: int) -> None:
  """Logical CPU devices must exist before TensorFlow initialises its runtime."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  cpu = tf.config.list_physical_devices('CPU')[0]
  tf.config.set_logical_device_configuration(
      cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(count)])


def _fn_args(args, custom_config):
  from tfx.components.trainer import fn_args_utils  # pylint: disable=import-outside-toplevel
  from tfx.types import artifact_utils, standard_artifacts  # pylint: disable=import-outside-toplevel
  examples = standard_artifacts.Examples()
  examples.uri = args.transformed_examples
  examples.split_names = artifact_utils.encode_split_names(['train', 'eval'])
  transform_graph = standard_artifacts.TransformGraph()
  transform_graph.uri = args.transform_graph
  exec_properties = {
      'train_args': json.dumps({'num_steps': args.train_steps}),
      'eval_args': json.dumps({'num_steps': args.eval_steps}),
      'custom_config': json.dumps(custom_config),
  }
  fn_args = fn_args_utils.get_common_fn_args(
      {'examples': [examples], 'transform_graph': [transform_graph]}, exec_properties,
      working_dir=os.path.join(args.output, 'tmp'))
  fn_args.serving_model_dir = os.path.join(args.output, 'Format-Serving')
  fn_args.model_run_dir = os.path.join(args.output, 'model_run')
  fn_args.hyperparameters = None
  os.makedirs(fn_args.model_run_dir, exist_ok=True)
  return fn_args


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--family', required=True)
  parser.add_argument('--transformed-examples', required=True)
  parser.add_argument('--transform-graph', required=True)
  parser.add_argument('--output', required=True)
  parser.add_argument('--train-steps', type=int, default=500)
  parser.add_argument('--eval-steps', type=int, default=10)
  parser.add_argument('--config', default='{}', help='custom_config JSON (training section)')
  args = parser.parse_args(argv)

  training = TrainingSection.model_validate(
      {**json.loads(args.config), 'train_steps': args.train_steps, 'eval_steps': args.eval_steps})
  custom_config = {'training': training.model_dump(mode='json'), 'hparams': {},
                   'backup_root': os.path.join(args.output, 'backups')}
  if training.strategy.logical_cpus:
    split_cpu(training.strategy.logical_cpus)
  progress = logging.getLogger('forge.progress')
  progress.addHandler(logging.StreamHandler(sys.stdout))
  progress.setLevel(logging.INFO)
  # pylint: disable=import-outside-toplevel
  from models.common import training as trainer
  from models.common.family import load_family
  trainer.run(_fn_args(args, custom_config), load_family(args.family, with_body=True))
  return 0


if __name__ == '__main__':
  sys.exit(main())
