"""tf.Transform preprocessing for text: case-folded word tokens, a vocabulary of the most
frequent training tokens with one out-of-vocabulary id, padded to a fixed length. Every
step is one the TFLite Task Library's regex tokenizer repeats on a phone (the split on
TOKEN_DELIMITER, the truncation, the vocabulary lookup); see TokenInput."""
import tensorflow as tf
import tensorflow_transform as tft

from models.common import preprocessing
from models.common.family import transformed_name
from models.text.features import (FAMILY, OOV_BUCKETS, PADDING, SEQUENCE_LENGTH,
                                  TEXT_FEATURE, TOKEN_DELIMITER, VOCABULARY_SIZE)


def tokenize(text):
  """[batch] strings (a missing text is empty) -> ragged [batch, <= SEQUENCE_LENGTH] words,
  case-folded."""
  text = preprocessing.to_dense(text, '')
  words = tf.strings.split(tf.strings.regex_replace(text, TOKEN_DELIMITER, ' '))
  return tf.ragged.map_flat_values(preprocessing.fold_case, words[:, :SEQUENCE_LENGTH])


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
