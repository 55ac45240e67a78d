"""tf.Transform preprocessing for taxi trips (as in TFX's taxi example, plus the census
tract and community area codes, which the reference declares but never feeds to its model).
Built from TFLite builtin ops only, so the mobile model runs it on raw features."""
import tensorflow as tf

from models.common import preprocessing
from models.common.family import transformed_name
from models.taxi.features import (BUCKET_COUNT, BUCKET_FEATURES, DENSE_FLOAT_FEATURES, FAMILY,
                                  FARE_KEY, HASH_BUCKETS, HASHED_FEATURES, RANGED_INTEGERS,
                                  VOCAB_FEATURES, VOCAB_SIZE)


def preprocessing_fn(inputs):
  outputs = {}
  for key in DENSE_FLOAT_FEATURES:
    outputs[transformed_name(key)] = preprocessing.numeric(inputs[key])
  for key in BUCKET_FEATURES:
    outputs[transformed_name(key)] = preprocessing.bucketized(inputs[key], BUCKET_COUNT)
  for key, size in RANGED_INTEGERS.items():
    value = preprocessing.to_dense(inputs[key], 0)
    outputs[transformed_name(key)] = tf.clip_by_value(value, 0, size - 1)
  for key in VOCAB_FEATURES:
    outputs[transformed_name(key)] = preprocessing.categorical(inputs[key], key, top_k=VOCAB_SIZE)
  for key in HASHED_FEATURES:
    outputs[transformed_name(key)] = preprocessing.hashed(inputs[key], HASH_BUCKETS)
  fare = preprocessing.to_dense(tf.cast(inputs[FARE_KEY], tf.float32), float('nan'))
  tips = preprocessing.to_dense(tf.cast(inputs[FAMILY.label_key], tf.float32), 0.0)
  outputs[FAMILY.transformed_label_key] = tf.where(
      tf.math.is_nan(fare), tf.zeros_like(fare, tf.int64),
      tf.cast(tips > fare * 0.2, tf.int64))
  return outputs
