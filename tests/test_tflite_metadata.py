"""TFLite Metadata and the phone's tokenizer, without a pipeline run: the metadata a file
carries reads back as written, the pusher's version survives, and the Task Library's regex
tokenizer (in its own process) gives the same ids as the text family's Transform code on
text made to trip it up."""
from base import env  # noqa: F401  (before TensorFlow)

import numpy as np
import tensorflow as tf

from components.common import tflite_metadata
from models.common.family import TokenInput
from models.text.features import OOV_BUCKETS, PADDING, TOKEN_DELIMITER
from models.text.preprocessing import tokenize
from tests.tflite_probe import task_library_token_ids, token_ids_probe

TRICKY = [
    'The THE the tHe McQueen mcqueen',
    "Don't DON'T don't 'tis",
    'first line.<br />second<BR>third<br/>fourth. <br />fifth',
    'café naïve résumé – “quoted” — 2024 x<y a>b',
    'tabs\tand\nnew lines,,, and;;;punctuation!!!',
    '',
    '   ',
    ' '.join(f'word{i % 7}' for i in range(300)),  # longer than the sequence
    'I i a A',
]


def _transform_ids(texts, vocabulary, length):
  """What the text family's preprocessing gives: its tokenize (split and case folding),
  then ids from 1 by vocabulary position, one unknown id after them, padding to `length`
  (compute_and_apply_vocabulary(num_oov_buckets=1) + 1, as preprocessing.token_ids)."""
  assert OOV_BUCKETS == 1
  table = tf.lookup.StaticHashTable(
      tf.lookup.KeyValueTensorInitializer(tf.constant(vocabulary),
                                          tf.range(1, len(vocabulary) + 1, dtype=tf.int64)),
      default_value=len(vocabulary) + 1)
  words = tokenize(tf.constant(texts))[:, :length]
  return tf.ragged.map_flat_values(table.lookup, words).to_tensor(
      default_value=PADDING, shape=[None, length]).numpy()


def test_the_task_library_tokenizes_as_transform_does(tmp_path):
  length = 64
  words = tokenize(tf.constant(TRICKY)).flat_values.numpy()
  vocabulary = sorted({w.decode() for w in words} - {'word6'})  # one word left unknown
  probe = token_ids_probe(length, TOKEN_DELIMITER, tflite_metadata.vocabulary_lines(
      vocabulary, PADDING, TokenInput.spellings))
  on_phone = task_library_token_ids(probe, TRICKY, tmp_path)
  expected = _transform_ids(TRICKY, vocabulary, length)
  for text, phone, transform in zip(TRICKY, on_phone, expected):
    assert phone.tolist() == transform.tolist(), text
  assert (expected == len(vocabulary) + 1).any()  # the unknown id was exercised
  assert tokenize(tf.constant(['The McQueen'])).to_list() == [[b'the', b'McQueen']]


class _Table(tf.Module):
  @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name='bill'),
                                tf.TensorSpec([None], tf.string, name='island')])
  def mobile(self, bill, island):
    known = tf.cast(tf.equal(island, 'Biscoe'), tf.float32)
    return {'probabilities': tf.nn.softmax(tf.stack([bill, known, -bill], axis=1))}


def test_table_metadata_reads_back_with_labels_and_the_pushed_version(tmp_path):
  module = _Table()
  tf.saved_model.save(module, str(tmp_path), signatures={'mobile': module.mobile})
  converter = tf.lite.TFLiteConverter.from_saved_model(str(tmp_path), signature_keys=['mobile'])
  model = tflite_metadata.write(converter.convert(), {
      'name': 'penguins', 'version': '', 'description': 'Which species.', 'author': 'Ana',
      'class_names': ['Adelie', 'Chinstrap', 'Gentoo'], 'kind': 'table',
      'inputs': {'bill': 'Raw feature bill', 'island': 'Raw feature island'},
      'output_description': ''})
  model = tflite_metadata.set_version(model, '12')
  read = tflite_metadata.read(model)
  metadata = read['metadata']
  assert (metadata['name'], metadata['version'], metadata['author']) == ('penguins', '12', 'Ana')
  (subgraph,) = metadata['subgraph_metadata']
  assert sorted(t['name'] for t in subgraph['input_tensor_metadata']) == ['bill', 'island']
  assert subgraph['output_tensor_metadata'][0]['associated_files'][0]['type'] == 'TENSOR_AXIS_LABELS'
  assert tflite_metadata.labels(model) == ['Adelie', 'Chinstrap', 'Gentoo']
  # The version was set without unpacking the label file or breaking the model.
  from ai_edge_litert.interpreter import Interpreter
  runner = Interpreter(model_content=model).get_signature_runner('mobile')
  out = runner(bill=np.array([2.0], np.float32), island=np.array([b'Biscoe']))
  assert out['probabilities'].shape == (1, 3)
