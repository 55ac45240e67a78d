"""Signatures of the exported SavedModel: what TF Serving and TFMA call.

- `serving_default`: serialized tf.Examples in (gRPC clients, TFMA).
- `serving_raw`: one tensor per raw feature (REST clients send
  `{"instances": [{"feature": value, ...}]}`); an empty string or NaN means "missing".
  An integer feature that may be missing is taken as float64 (exact up to 2**53), so
  NaN can say so; one that is always present stays int64.
- `transform_features`: the transformed features, so TFMA can read the transformed label.
- `mobile`: what the TFLite variants are converted from, without string tensors out:
  `probabilities` with one column per class (a binary task too, so the label file in the
  TFLite metadata matches them), or a regression's `prediction`. It takes serving_raw's
  inputs, unless the family's mobile_input says an RGB `image` (the Task Library's
  ImageClassifier) or `token_ids` (its NLClassifier tokenizes on the phone).
Both serving signatures run the same transform graph and model, and return
`probabilities`, `predicted_class` and `class_names`; for a regression family every
signature returns `prediction` (one number per row, in the label's units) instead.
"""
from __future__ import annotations

import tensorflow as tf

from models.common import preprocessing
from base.signature_names import (MOBILE, MOBILE_IMAGE, MOBILE_TOKEN_IDS, SERVING_DEFAULT,
                                  SERVING_RAW, TRANSFORM_FEATURES)
from models.common.family import (PREDICTION, PROBABILITIES, Family, ImageInput, TokenInput,
                                  transformed_name)


def _predictions(model, features, family: Family):
  outputs = model(model.tft_layer(features))
  if family.is_regression:
    return {PREDICTION: tf.reshape(outputs, [-1])}
  probabilities = outputs
  if family.is_binary:
    class_ids = tf.cast(tf.squeeze(probabilities, 1) > 0.5, tf.int64)
  else:
    class_ids = tf.argmax(probabilities, axis=1)
  class_names = tf.constant(list(family.class_names))
  batch_size = tf.shape(probabilities)[0]
  return {
      PROBABILITIES: probabilities,
      'predicted_class': tf.gather(class_names, class_ids),
      'class_names': tf.tile(tf.expand_dims(class_names, 0), [batch_size, 1]),
  }


def _present(values):
  if values.dtype == tf.string:
    return tf.not_equal(values, '')
  if values.dtype.is_floating:
    # NaN != NaN; compared as float32 (NaN survives the cast) because TFLite has neither
    # IsNan nor a float64 comparison.
    as_float32 = tf.cast(values, tf.float32)
    return tf.equal(as_float32, as_float32)
  return tf.ones_like(values, tf.bool)


def raw_input_dtype(feature_spec) -> tf.DType:
  if isinstance(feature_spec, tf.io.VarLenFeature) and feature_spec.dtype == tf.int64:
    return tf.float64
  return feature_spec.dtype


def raw_input_shape(feature_spec):
  """[batch] for one value per example, [batch, n] for a fixed-length list of n (pixels)."""
  if isinstance(feature_spec, tf.io.FixedLenFeature) and list(feature_spec.shape) not in ([], [1]):
    return [None] + list(feature_spec.shape)
  return [None]


def _as_parsed(values, feature_spec):
  """A [batch] tensor shaped like tf.io.parse_example's output for `feature_spec`."""
  if isinstance(feature_spec, tf.io.FixedLenFeature):
    return tf.reshape(values, [-1] + list(feature_spec.shape))
  present = _present(values)
  rows = tf.where(present)[:, 0]
  return tf.SparseTensor(
      indices=tf.stack([rows, tf.zeros_like(rows)], axis=1),
      # Cast, then mask: TFLite gathers no float64.
      values=tf.boolean_mask(tf.cast(values, feature_spec.dtype), present),
      dense_shape=tf.stack([tf.shape(values, out_type=tf.int64)[0], tf.constant(1, tf.int64)]))


def build(model: tf.keras.Model, tf_transform_output, family: Family):
  # An attribute makes the transform layer a tracked part of the saved model.
  model.tft_layer = tf_transform_output.transform_features_layer()
  raw_feature_spec = tf_transform_output.raw_feature_spec()
  serving_spec = {k: v for k, v in raw_feature_spec.items() if k != family.label_key}

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name='examples')])
  def serving_default(serialized_examples):
    return _predictions(model, tf.io.parse_example(serialized_examples, serving_spec), family)

  raw_inputs = [tf.TensorSpec(raw_input_shape(spec), raw_input_dtype(spec), name=name)
                for name, spec in sorted(serving_spec.items())]

  def parsed(values):
    return {name: _as_parsed(value, serving_spec[name])
            for name, value in zip(sorted(serving_spec), values)}

  @tf.function(input_signature=raw_inputs)
  def serving_raw(*values):
    return _predictions(model, parsed(values), family)

  # The transform graph's vocabulary tables are initialized from asset files, which the
  # TFLite converter drops: the mobile signature holds the same vocabularies as constants.
  model.mobile_vocabularies = {
      key: tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(
          tf.constant(tf_transform_output.vocabulary_by_name(key), tf.string),
          tf.range(tf_transform_output.vocabulary_size_by_name(key), dtype=tf.int64)),
          default_value=preprocessing.NO_CATEGORY)
      for key in family.vocabulary_features}

  def mobile_outputs(outputs):
    if family.is_regression:
      return {PREDICTION: tf.reshape(outputs, [-1])}
    if family.is_binary:
      outputs = tf.concat([1.0 - outputs, outputs], axis=1)
    return {PROBABILITIES: outputs}

  def mobile_from_raw(values):
    raw = dict(zip(sorted(serving_spec), values))
    features = parsed(values)
    for key in family.vocabulary_features:
      del features[key]  # the transform graph leaves out what depends on a missing input
    transformed = model.tft_layer(features)
    for key, table in model.mobile_vocabularies.items():
      transformed[transformed_name(key)] = table.lookup(tf.reshape(raw[key], [-1]))
    return mobile_outputs(model(transformed))

  kind = family.mobile_input
  if isinstance(kind, TokenInput):
    @tf.function(input_signature=[
        tf.TensorSpec([None, kind.length], tf.int32, name=MOBILE_TOKEN_IDS)])
    def mobile(token_ids):
      return mobile_outputs(model({transformed_name(kind.feature): tf.cast(token_ids, tf.int64)}))
  elif isinstance(kind, ImageInput):
    if sorted(serving_spec) != [kind.feature]:
      raise ValueError(f'family {family.name!r}: an image mobile input must be the only '
                       f'feature, the raw features are {sorted(serving_spec)}')
    feature_dtype = raw_input_dtype(serving_spec[kind.feature])

    @tf.function(input_signature=[
        tf.TensorSpec([None, kind.height, kind.width, 3], tf.float32, name=MOBILE_IMAGE)])
    def mobile(image):
      grey = tf.reshape(tf.reduce_mean(image, axis=3), [-1, kind.height * kind.width])
      if feature_dtype.is_integer:
        grey = tf.round(grey)
      return mobile_from_raw([tf.cast(grey, feature_dtype)])
  else:
    @tf.function(input_signature=raw_inputs)
    def mobile(*values):
      return mobile_from_raw(values)

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name='examples')])
  def transform_features(serialized_examples):
    return model.tft_layer(tf.io.parse_example(serialized_examples, raw_feature_spec))

  return {SERVING_DEFAULT: serving_default, SERVING_RAW: serving_raw,
          TRANSFORM_FEATURES: transform_features, MOBILE: mobile}
