"""tf.Transform preprocessing for text: lower-cased word tokens, a vocabulary of the most
frequent training tokens with hashed out-of-vocabulary buckets, padded to a fixed length."""
import tensorflow as tf
import tensorflow_transform as tft

from models.common import preprocessing
from models.common.family import transformed_name
from models.text.features import (FAMILY, OOV_BUCKETS, PADDING, SEQUENCE_LENGTH,
                                  TEXT_FEATURE, VOCABULARY_SIZE)

# HTML line breaks (IMDB has them) and anything but letters, digits and apostrophes split words.
_SEPARATORS = r"<br\s*/?>|[^a-z0-9']+"


def tokenize(text):
  """[batch] strings (a missing text is empty) -> ragged [batch, <= SEQUENCE_LENGTH] words."""
  text = tf.strings.lower(preprocessing.to_dense(text, ''))
  return tf.strings.split(tf.strings.regex_replace(text, _SEPARATORS, ' '))[:, :SEQUENCE_LENGTH]


def token_ids(text):
  """[batch, SEQUENCE_LENGTH] int64: vocabulary ids from 1, OOV buckets after them, then
  PADDING (0) to the end. The vocabulary is saved as `text`."""
  ids = tft.compute_and_apply_vocabulary(tokenize(text), top_k=VOCABULARY_SIZE,
                                         num_oov_buckets=OOV_BUCKETS,
                                         vocab_filename=TEXT_FEATURE)
  return (ids + 1).to_tensor(default_value=PADDING, shape=[None, SEQUENCE_LENGTH])


def preprocessing_fn(inputs):
  return {
      transformed_name(TEXT_FEATURE): token_ids(inputs[TEXT_FEATURE]),
      FAMILY.transformed_label_key: preprocessing.int_class_index(
          inputs[FAMILY.label_key], len(FAMILY.class_names)),
  }
