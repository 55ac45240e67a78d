"""A small CNN for 8x8 digits: two 3x3 convolutions, pooling, one dense layer.

Only layers that tensorflow-model-optimization prunes and quantizes (Conv2D, Dense) carry
weights, and every op converts to TFLite builtins."""
import tensorflow as tf

from models.common import training
from models.common.family import ModelBody, transformed_name
from models.digits.features import FAMILY, IMAGE_SIZE, PIXELS_KEY

DEFAULT_HPARAMS = {'filters': [32, 64], 'dense_units': 128, 'dropout': 0.1}


def build_body(inputs, tf_transform_output, hparams):
  del tf_transform_output  # no vocabularies
  image = tf.keras.layers.Reshape((IMAGE_SIZE, IMAGE_SIZE, 1))(inputs[transformed_name(PIXELS_KEY)])
  for filters in hparams['filters']:
    image = tf.keras.layers.Conv2D(filters, 3, padding='same', activation='relu')(image)
  image = tf.keras.layers.MaxPooling2D(2)(image)
  hidden = tf.keras.layers.Flatten()(image)
  if hparams['dropout']:
    hidden = tf.keras.layers.Dropout(hparams['dropout'])(hidden)
  return tf.keras.layers.Dense(hparams['dense_units'], activation='relu')(hidden)


def search_space(hp):
  """What the Tuner searches; maps KerasTuner's values onto this family's hparams."""
  return {
      'filters': [hp.Int('filters_1', 8, 32, step=8), hp.Int('filters_2', 16, 64, step=16)],
      'dense_units': hp.Int('dense_units', 32, 128, step=32),
      'dropout': hp.Float('dropout', 0.0, 0.3, step=0.1),
      'learning_rate': hp.Float('learning_rate', 1e-3, 1e-2, sampling='log'),
  }


BODY = ModelBody(build_body, DEFAULT_HPARAMS, search_space)
run_fn, tuner_fn = training.entry_points(FAMILY.with_body(BODY))
