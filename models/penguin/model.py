"""The penguin classifier body: scaled measurements and one-hot island/sex into a small MLP."""
import tensorflow as tf

from models.common import training
from models.common.layers import OneHot, hidden_layers
from models.common.family import ModelBody, transformed_name
from models.penguin.features import CATEGORICAL_FEATURES, FAMILY, NUMERIC_FEATURES

DEFAULT_HPARAMS = {'hidden_units': [16, 8], 'dropout': 0.0}


def build_body(inputs, tf_transform_output, hparams):
  numeric = [inputs[transformed_name(key)] for key in NUMERIC_FEATURES]
  one_hot = [
      OneHot(training.num_categories(tf_transform_output, key))(
          inputs[transformed_name(key)])
      for key in CATEGORICAL_FEATURES
  ]
  hidden = tf.keras.layers.concatenate(numeric + one_hot)
  return hidden_layers(hidden, hparams)


def search_space(hp):
  """What the Tuner searches; maps KerasTuner's values onto this family's hparams."""
  return {
      'hidden_units': [hp.Int('units_1', 8, 64, step=8), hp.Int('units_2', 4, 32, step=4)],
      'dropout': hp.Float('dropout', 0.0, 0.3, step=0.1),
      'learning_rate': hp.Float('learning_rate', 1e-3, 3e-2, sampling='log'),
  }


BODY = ModelBody(build_body, DEFAULT_HPARAMS, search_space)
run_fn, tuner_fn = training.entry_points(FAMILY.with_body(BODY))
