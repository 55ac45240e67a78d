"""The tabular model: every transformed feature into an MLP. Numbers (float) go in as
they are; indices (int64) one-hot, their depth told by the feature's name (see
features.py): a vocabulary's size, the quantile buckets or the integer-code buckets."""
import tensorflow as tf

from models.common import training
from models.common.family import ModelBody
from models.common.layers import OneHot, hidden_layers
from models.tabular.features import (BUCKET_SUFFIX, BUCKETS, CODE_BUCKETS, CODE_SUFFIX,
                                     family_from_spec)

DEFAULT_HPARAMS = {'hidden_units': [64, 32], 'dropout': 0.1}
_TRANSFORMED_SUFFIX = '_xf'


def _depth(name: str, tf_transform_output) -> int:
  if name.endswith(BUCKET_SUFFIX):
    return BUCKETS + 1
  if name.endswith(CODE_SUFFIX):
    return CODE_BUCKETS
  return training.num_categories(tf_transform_output, name[:-len(_TRANSFORMED_SUFFIX)])


def build_body(inputs, tf_transform_output, hparams):
  parts = [tensor if tensor.dtype.is_floating
           else OneHot(_depth(name, tf_transform_output))(tensor)
           for name, tensor in sorted(inputs.items())]
  hidden = tf.keras.layers.concatenate(parts) if len(parts) > 1 else parts[0]
  return hidden_layers(hidden, hparams)


def search_space(hp):
  """What the Tuner searches; maps KerasTuner's values onto this family's hparams."""
  return {
      'hidden_units': [hp.Int('units_1', 16, 128, step=16), hp.Int('units_2', 8, 64, step=8)],
      'dropout': hp.Float('dropout', 0.0, 0.3, step=0.1),
      'learning_rate': hp.Float('learning_rate', 1e-3, 3e-2, sampling='log'),
  }


BODY = ModelBody(build_body, DEFAULT_HPARAMS, search_space)
run_fn, tuner_fn = training.entry_points(lambda spec: family_from_spec(spec).with_body(BODY))
