"""Keras layers the families share."""
import tensorflow as tf


@tf.keras.utils.register_keras_serializable(package='forge')
class OneHot(tf.keras.layers.Layer):
  """One-hot encoding of an integer index; an index outside [0, depth), such as
  preprocessing.NO_CATEGORY, encodes as all zeros. Built from a comparison with a range
  rather than CategoryEncoding (DenseBincount, not a TFLite op) or tf.one_hot (whose
  on/off values the quantization-aware int8 conversion rejects), so every variant converts."""

  def __init__(self, depth: int, **kwargs):
    super().__init__(**kwargs)
    self.depth = depth

  def call(self, indices):
    indices = tf.reshape(tf.cast(indices, tf.int64), [-1, 1])
    # A select, not a cast: the converter fuses cast(equal(x, range)) back into OneHot.
    return tf.where(tf.equal(indices, tf.range(self.depth, dtype=tf.int64)), 1.0, 0.0)

  def get_config(self):
    return {**super().get_config(), 'depth': self.depth}


def hidden_layers(inputs, hparams):
  """The families' MLP: a ReLU Dense layer per `hidden_units` entry, each followed by
  Dropout when `dropout` is set."""
  hidden = inputs
  for units in hparams['hidden_units']:
    hidden = tf.keras.layers.Dense(units, activation='relu')(hidden)
    if hparams['dropout']:
      hidden = tf.keras.layers.Dropout(hparams['dropout'])(hidden)
  return hidden
