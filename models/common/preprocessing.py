"""Building blocks for preprocessing_fns, shared by every family."""
import tensorflow as tf
import tensorflow_transform as tft


def to_dense(feature, default_value):
  """A feature that may be missing arrives as a SparseTensor [batch, 0 or 1]; returns a
  dense [batch] tensor with `default_value` where it was missing."""
  if not isinstance(feature, tf.sparse.SparseTensor):
    return tf.reshape(feature, [-1])
  dense = tf.sparse.to_dense(
      tf.SparseTensor(feature.indices, feature.values, [feature.dense_shape[0], 1]),
      default_value)
  return tf.squeeze(dense, axis=1)


def numeric(feature):
  """Missing values imputed with the training mean, then z-scored."""
  feature = tf.cast(feature, tf.float32)  # tf.cast keeps a SparseTensor sparse
  return tft.scale_to_z_score(to_dense(feature, tft.mean(feature)))


def categorical(feature, top_k=None, num_oov_buckets=1):
  """Strings (or ints) mapped to vocabulary indices; missing values become their own token."""
  default = '' if feature.dtype == tf.string else -1
  return tft.compute_and_apply_vocabulary(
      to_dense(feature, default), top_k=top_k, num_oov_buckets=num_oov_buckets)


def class_index(label, class_names):
  """Index of each label in `class_names` (-1 for an unknown label), without lookup tables
  so that the same graph works in TFT, TF Serving and TFLite."""
  dense = to_dense(label, '')
  matches = tf.equal(tf.expand_dims(dense, 1), tf.constant(list(class_names)))
  index = tf.argmax(tf.cast(matches, tf.int64), axis=1)
  return tf.where(tf.reduce_any(matches, axis=1), index, tf.constant(-1, tf.int64))


def int_class_index(label, num_classes):
  """An integer label that already is the class index; -1 when outside [0, num_classes)."""
  dense = to_dense(tf.cast(label, tf.int64), tf.constant(-1, tf.int64))
  known = tf.logical_and(dense >= 0, dense < num_classes)
  return tf.where(known, dense, tf.constant(-1, tf.int64))
