"""A pretrained encoder through TF Hub: a SavedModel built here (no download) loads with
tensorflow_hub from its path into the text family's body, and fine-tunes or stays frozen."""
from base import env  # noqa: F401  (before TensorFlow)

import numpy as np
import pytest
import tensorflow as tf

from models.common.family import transformed_name
from models.text import model as text_model
from models.text.features import SEQUENCE_LENGTH, TEXT_FEATURE

VOCABULARY, DIM = 200, 8


@pytest.fixture(scope='module')
def encoder_dir(tmp_path_factory):
  """A small encoder SavedModel: token ids in, the mean embedding of the real tokens out."""
  ids = tf.keras.Input((SEQUENCE_LENGTH,), dtype=tf.int64)
  embedded = tf.keras.layers.Embedding(VOCABULARY, DIM, mask_zero=True)(ids)
  encoder = tf.keras.Model(ids, tf.keras.layers.GlobalAveragePooling1D()(embedded))
  path = tmp_path_factory.mktemp('hub') / 'encoder'
  tf.saved_model.save(encoder, str(path))
  return str(path)


def _trained_embeddings(encoder_dir, trainable: int):
  key = transformed_name(TEXT_FEATURE)
  inputs = {key: tf.keras.Input((SEQUENCE_LENGTH,), dtype=tf.int64, name=key)}
  body = text_model.build_body(inputs, None, {'hub_handle': encoder_dir,
                                              'hub_trainable': trainable})
  model = tf.keras.Model(inputs, tf.keras.layers.Dense(1, activation='sigmoid')(body))
  model.compile('adam', 'binary_crossentropy')
  (hub_layer,) = [layer for layer in model.layers if layer.name == 'hub_encoder']
  before = [w.numpy().copy() for w in hub_layer.weights]
  rng = np.random.default_rng(0)
  ids = rng.integers(1, VOCABULARY, size=(64, SEQUENCE_LENGTH))
  labels = (ids[:, 0] % 2).astype('float32')
  model.fit({key: ids}, labels, epochs=2, verbose=0)
  return hub_layer, before


def test_hub_encoder_from_a_local_path_fine_tunes(encoder_dir):
  layer, before = _trained_embeddings(encoder_dir, trainable=1)
  assert layer.trainable_weights
  assert any(not np.allclose(b, w.numpy()) for b, w in zip(before, layer.weights))


def test_frozen_hub_encoder_keeps_its_weights(encoder_dir):
  layer, before = _trained_embeddings(encoder_dir, trainable=0)
  assert not layer.trainable_weights
  assert all(np.allclose(b, w.numpy()) for b, w in zip(before, layer.weights))
