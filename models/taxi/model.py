"""Wide and deep taxi model: scaled numbers through an MLP, one-hot codes alongside."""
import tensorflow as tf

from models.common import training
from models.common.layers import OneHot, hidden_layers
from models.common.family import ModelBody, transformed_name
from models.taxi.features import (BUCKET_COUNT, BUCKET_FEATURES, DENSE_FLOAT_FEATURES, FAMILY,
                                  HASH_BUCKETS, HASHED_FEATURES, RANGED_INTEGERS, VOCAB_FEATURES)

DEFAULT_HPARAMS = {'hidden_units': [64, 32, 16], 'dropout': 0.0}


def build_body(inputs, tf_transform_output, hparams):
  deep = tf.keras.layers.concatenate(
      [inputs[transformed_name(key)] for key in DENSE_FLOAT_FEATURES])
  deep = hidden_layers(deep, hparams)
  category_sizes = {transformed_name(key): BUCKET_COUNT for key in BUCKET_FEATURES}
  category_sizes.update({transformed_name(key): size for key, size in RANGED_INTEGERS.items()})
  category_sizes.update({
      transformed_name(key): training.num_categories(tf_transform_output, key)
      for key in VOCAB_FEATURES})
  category_sizes.update({transformed_name(key): HASH_BUCKETS for key in HASHED_FEATURES})
  wide = [OneHot(size)(inputs[name]) for name, size in category_sizes.items()]
  return tf.keras.layers.concatenate([deep] + wide)


def search_space(hp):
  """What the Tuner searches; maps KerasTuner's values onto this family's hparams."""
  return {
      'hidden_units': [hp.Int('units_1', 32, 128, step=32), hp.Int('units_2', 16, 64, step=16),
                       hp.Int('units_3', 8, 32, step=8)],
      'dropout': hp.Float('dropout', 0.0, 0.3, step=0.1),
      'learning_rate': hp.Float('learning_rate', 3e-4, 1e-2, sampling='log'),
  }


BODY = ModelBody(build_body, DEFAULT_HPARAMS, search_space)
run_fn, tuner_fn = training.entry_points(FAMILY.with_body(BODY))
