"""Signatures of the exported SavedModel: what TF Serving and TFMA call."""
from __future__ import annotations

import tensorflow as tf

from models.common.family import Family


def build(model: tf.keras.Model, tf_transform_output, family: Family):
  """`serving_default` takes serialized tf.Examples (the label may be absent) and returns
  `probabilities` and `predicted_class`; `transform_features` returns the transformed
  features TFMA needs to read the transformed label."""
  # Attributes make the transform layer a tracked part of the saved model.
  model.tft_layer = tf_transform_output.transform_features_layer()
  raw_feature_spec = tf_transform_output.raw_feature_spec()
  serving_spec = {k: v for k, v in raw_feature_spec.items() if k != family.label_key}
  class_names = tf.constant(list(family.class_names))

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name='examples')])
  def serving_default(serialized_examples):
    features = tf.io.parse_example(serialized_examples, serving_spec)
    probabilities = model(model.tft_layer(features))
    if family.is_binary:
      class_ids = tf.cast(tf.squeeze(probabilities, 1) > 0.5, tf.int64)
    else:
      class_ids = tf.argmax(probabilities, axis=1)
    return {'probabilities': probabilities, 'predicted_class': tf.gather(class_names, class_ids)}

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name='examples')])
  def transform_features(serialized_examples):
    return model.tft_layer(tf.io.parse_example(serialized_examples, raw_feature_spec))

  return {'serving_default': serving_default, 'transform_features': transform_features}
