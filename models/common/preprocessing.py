"""Building blocks for preprocessing_fns, shared by every family.

Every op here also exists among TFLite's builtin ops, so the transform graph can run inside
the mobile model (components/model_optimizer): no sparse-to-dense on strings, no string
hashing, no searchsorted. Strings are looked up while still sparse, and only numbers are
made dense.
"""
import tensorflow as tf
import tensorflow_transform as tft

# A categorical value outside the vocabulary, or missing: no category (an all-zero one-hot).
NO_CATEGORY = -1


def to_dense(feature, default_value):
  """A numeric feature that may be missing arrives as a SparseTensor [batch, 0 or 1];
  returns a dense [batch] tensor with `default_value` where it was missing."""
  if not isinstance(feature, tf.sparse.SparseTensor):
    return tf.reshape(feature, [-1])
  # Each row's position in `values` (the largest, should a row hold several), or the
  # position of the appended default for a row with none. tf.sparse.to_dense would be
  # simpler, but TFLite's SparseToDense takes no strings and this works for every type.
  count = tf.shape(feature.values)[0]
  position = tf.math.unsorted_segment_max(
      tf.range(count), tf.cast(feature.indices[:, 0], tf.int32),
      tf.cast(feature.dense_shape[0], tf.int32))
  values = tf.concat(
      [feature.values, tf.reshape(tf.cast(default_value, feature.values.dtype), [1])], 0)
  return tf.gather(values, tf.where(position < 0, count, position))


# z-scores are clipped to this many standard deviations, so that outliers (a 10-hour taxi
# trip) cannot dominate the activations, which int8 quantization covers with one scale.
Z_SCORE_LIMIT = 5.0


def z_score(values):
  """(x - mean) / std with the training mean and standard deviation (x - mean where the
  std is 0). Unlike tft.scale_to_z_score, the zero-std case is decided on the analyzer's
  constant, not by a select over the values: TFLite's int8 SELECT gives its inputs one
  scale, which put x - mean (raw units: seconds, dollars) on the z-score's range and
  clipped it; taxi's full-integer variants lost 12-14 points of accuracy to that."""
  std = tf.sqrt(tft.var(values))
  inverse_std = tf.where(std > 0, 1.0 / tf.maximum(std, 1e-30), 1.0)
  return (values - tft.mean(values)) * inverse_std


def numeric(feature):
  """Missing values imputed with the training mean, then z-scored and clipped."""
  feature = tf.cast(feature, tf.float32)  # tf.cast keeps a SparseTensor sparse
  return tf.clip_by_value(z_score(to_dense(feature, tft.mean(feature))),
                          -Z_SCORE_LIMIT, Z_SCORE_LIMIT)


def categorical(feature, name, top_k=None):
  """Strings mapped to vocabulary indices; missing and unseen values get NO_CATEGORY
  (hashing them into extra buckets would need TFLite's missing string-hash op). The
  vocabulary is saved as `name`: its size is the number of categories (num_categories)."""
  indices = tft.compute_and_apply_vocabulary(feature, top_k=top_k, num_oov_buckets=0,
                                             default_value=NO_CATEGORY, vocab_filename=name)
  return to_dense(indices, NO_CATEGORY)


def hashed(feature, buckets):
  """An integer code (e.g. a census tract) folded into [0, buckets); missing values get
  bucket buckets - 1. A vocabulary of integers would need a table TFLite cannot hold."""
  return tf.math.floormod(to_dense(tf.cast(feature, tf.int64), -1), buckets)


def bucketized(feature, bucket_count):
  """Quantile buckets of a number (missing: 0) computed as a count of boundaries below the
  value, the same as tft.bucketize but without the searchsorted op TFLite lacks."""
  values = to_dense(tf.cast(feature, tf.float32), 0.0)
  boundaries = tft.quantiles(values, bucket_count, epsilon=0.01)
  return tf.reduce_sum(tf.cast(tf.expand_dims(values, 1) >= boundaries, tf.int64), axis=1)


def class_index(label, class_names):
  """Index of each label in `class_names` (-1 for an unknown label), without lookup tables
  so that the same graph works in TFT, TF Serving and TFLite."""
  if isinstance(label, tf.sparse.SparseTensor):  # labels never reach the mobile graph
    label = tf.sparse.to_dense(
        tf.SparseTensor(label.indices, label.values, [label.dense_shape[0], 1]), '')
  dense = tf.reshape(label, [-1])
  matches = tf.equal(tf.expand_dims(dense, 1), tf.constant(list(class_names)))
  index = tf.argmax(tf.cast(matches, tf.int64), axis=1)
  return tf.where(tf.reduce_any(matches, axis=1), index, tf.constant(-1, tf.int64))


def int_class_index(label, num_classes):
  """An integer label that already is the class index; -1 when outside [0, num_classes)."""
  dense = to_dense(tf.cast(label, tf.int64), tf.constant(-1, tf.int64))
  known = tf.logical_and(dense >= 0, dense < num_classes)
  return tf.where(known, dense, tf.constant(-1, tf.int64))


def fold_case(words):
  """Words in lower case, UPPER CASE or Capitalized, lower-cased; mixed case ("McQueen")
  kept. The three spellings are what a phone's vocabulary file can list for each word
  (family.TokenInput.spellings), so both sides map a word to the same id."""
  lower = tf.strings.lower(words)
  capitalized = tf.strings.join([tf.strings.upper(tf.strings.substr(lower, 0, 1)),
                                 tf.strings.substr(lower, 1, tf.int32.max)])
  folds = ((words == lower) | (words == tf.strings.upper(words)) | (words == capitalized))
  return tf.where(folds, lower, words)
