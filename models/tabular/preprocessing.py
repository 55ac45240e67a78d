"""tf.Transform preprocessing for any table, from the roles in the config (custom_config
carries ModelSection.family_spec()). Built from models/common/preprocessing.py only, so
the mobile signature converts to TFLite builtins."""
import tensorflow as tf

from models.common import preprocessing
from models.common.family import transformed_name
from models.tabular.features import (BUCKETS, CODE_BUCKETS, MAX_CATEGORIES, bucket_name,
                                     code_name, family_from_spec)


def _as_string(label):
  """Integer class labels compare with the class names as their decimal strings."""
  if label.dtype == tf.string:
    return label
  if isinstance(label, tf.sparse.SparseTensor):
    return tf.SparseTensor(label.indices, tf.strings.as_string(label.values), label.dense_shape)
  return tf.strings.as_string(label)


def preprocessing_fn(inputs, custom_config):
  family = family_from_spec(custom_config['family_spec'])
  roles = family.spec['features']
  outputs = {}
  for key in roles['numeric'] + roles['skewed']:
    outputs[transformed_name(key)] = preprocessing.numeric(inputs[key])
  for key in roles['skewed']:
    outputs[bucket_name(key)] = preprocessing.bucketized(inputs[key], BUCKETS)
  for key in roles['categorical']:
    if inputs[key].dtype != tf.string:
      raise ValueError(f'model.features.categorical: column {key!r} holds numbers '
                       f'({inputs[key].dtype.name}); list it under integer_code or numeric')
    outputs[transformed_name(key)] = preprocessing.categorical(inputs[key], key,
                                                               top_k=MAX_CATEGORIES)
  for key in roles['integer_code']:
    outputs[code_name(key)] = preprocessing.hashed(inputs[key], CODE_BUCKETS)
  label = inputs[family.label_key]
  if family.is_regression:
    # Rows without a label stop the run at the DataValidationGate, or are dropped.
    outputs[family.transformed_label_key] = preprocessing.to_dense(
        tf.cast(label, tf.float32), 0.0)
  else:
    outputs[family.transformed_label_key] = preprocessing.class_index(
        _as_string(label), family.class_names)
  return outputs
