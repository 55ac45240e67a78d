"""A Transformer encoder for text: token and position embeddings, `layers` blocks of
multi-head self-attention and a feed-forward network (each with a residual connection and
layer normalization), then the mean over the real (unpadded) tokens.

Or, with hparams `hub_handle` (a TF Hub URL or a local SavedModel directory), a pretrained
encoder through `hub.KerasLayer`, fine-tuned when `hub_trainable` is 1 and frozen when 0. It
takes the token ids made by preprocessing.py ([batch, SEQUENCE_LENGTH] int64, 0 = padding)
and returns one vector per text.
"""
import tensorflow as tf
import tensorflow_hub as hub

from models.common import training
from models.common.family import ModelBody, transformed_name
from models.text.features import FAMILY, OOV_BUCKETS, PADDING, SEQUENCE_LENGTH, TEXT_FEATURE

DEFAULT_HPARAMS = {'embed_dim': 32, 'heads': 2, 'ff_dim': 64, 'layers': 1, 'dropout': 0.1}


@tf.keras.utils.register_keras_serializable(package='forge')
class TokenAndPositionEmbedding(tf.keras.layers.Layer):

  def __init__(self, vocabulary_size: int, length: int, embed_dim: int, **kwargs):
    super().__init__(**kwargs)
    self.vocabulary_size, self.length, self.embed_dim = vocabulary_size, length, embed_dim
    self.tokens = tf.keras.layers.Embedding(vocabulary_size, embed_dim)
    self.positions = tf.keras.layers.Embedding(length, embed_dim)

  def call(self, ids):
    return self.tokens(ids) + self.positions(tf.range(self.length))

  def get_config(self):
    return {**super().get_config(), 'vocabulary_size': self.vocabulary_size,
            'length': self.length, 'embed_dim': self.embed_dim}


@tf.keras.utils.register_keras_serializable(package='forge')
class TransformerBlock(tf.keras.layers.Layer):
  """Post-norm encoder block: x + attention(x), normalized; then + feed-forward, normalized."""

  def __init__(self, embed_dim: int, heads: int, ff_dim: int, dropout: float, **kwargs):
    super().__init__(**kwargs)
    self.settings = {'embed_dim': embed_dim, 'heads': heads, 'ff_dim': ff_dim,
                     'dropout': dropout}
    self.attention = tf.keras.layers.MultiHeadAttention(heads, embed_dim // heads,
                                                        dropout=dropout)
    self.feed_forward = tf.keras.Sequential([
        tf.keras.layers.Dense(ff_dim, activation='relu'), tf.keras.layers.Dense(embed_dim)])
    self.norm_attention = tf.keras.layers.LayerNormalization(epsilon=1e-6)
    self.norm_feed_forward = tf.keras.layers.LayerNormalization(epsilon=1e-6)
    self.dropout = tf.keras.layers.Dropout(dropout)

  def call(self, x, attention_mask, training=False):
    attended = self.attention(x, x, attention_mask=attention_mask, training=training)
    x = self.norm_attention(x + self.dropout(attended, training=training))
    return self.norm_feed_forward(
        x + self.dropout(self.feed_forward(x), training=training))

  def get_config(self):
    return {**super().get_config(), **self.settings}


def hub_encoder(handle: str, trainable: bool) -> tf.keras.layers.Layer:
  return hub.KerasLayer(handle, trainable=trainable, name='hub_encoder')


def build_body(inputs, tf_transform_output, hparams):
  ids = inputs[transformed_name(TEXT_FEATURE)]
  if hparams.get('hub_handle'):
    return hub_encoder(hparams['hub_handle'], bool(hparams.get('hub_trainable', 0)))(ids)
  vocabulary = training.num_categories(tf_transform_output, TEXT_FEATURE) + OOV_BUCKETS + 1
  real = tf.cast(tf.not_equal(ids, PADDING), tf.float32)  # [batch, length]
  attention_mask = real[:, tf.newaxis, :]  # every query may attend to the real tokens
  x = TokenAndPositionEmbedding(vocabulary, SEQUENCE_LENGTH, hparams['embed_dim'])(ids)
  for _ in range(hparams['layers']):
    x = TransformerBlock(hparams['embed_dim'], hparams['heads'], hparams['ff_dim'],
                         hparams['dropout'])(x, attention_mask)
  # Mean over the real tokens (an empty text pools to zeros).
  summed = tf.reduce_sum(x * real[:, :, tf.newaxis], axis=1)
  return summed / tf.maximum(tf.reduce_sum(real, axis=1, keepdims=True), 1.0)


def search_space(hp):
  """What the Tuner searches; maps KerasTuner's values onto this family's hparams."""
  return {
      'embed_dim': hp.Choice('embed_dim', [16, 32, 64]),
      'heads': hp.Choice('heads', [1, 2, 4]),
      'ff_dim': hp.Choice('ff_dim', [32, 64, 128]),
      'layers': hp.Int('layers', 1, 2),
      'dropout': hp.Float('dropout', 0.0, 0.3, step=0.1),
      'learning_rate': hp.Float('learning_rate', 3e-4, 3e-3, sampling='log'),
  }


BODY = ModelBody(build_body, DEFAULT_HPARAMS, search_space)
run_fn, tuner_fn = training.entry_points(FAMILY.with_body(BODY))
