"""The text family: a Transformer encoder trained end to end on reviews the test makes
(tests/text_corpus.py), served from
raw strings, and on a phone: the pushed .tflite takes token ids, and the Task Library's
NLClassifier tokenizes raw strings with the vocabulary and regex in the file's metadata.
(tests/test_serving.py also runs its serving checks on this model.)"""
from base import env  # noqa: F401  (before TensorFlow)

import json

import numpy as np
import tensorflow as tf

from components.common import task_library
from components.common.mobile_inputs import task_library_inputs
from models.text.features import FAMILY, SEQUENCE_LENGTH, TOKEN_DELIMITER
from pipeline.summary import read_latest_run
from tests.conftest import pushed_version_dirs
from tests.tflite_probe import (eval_rows, packed_files, serving_default_classes,
                                task_library_token_ids, token_ids_probe)


def _mobile_version(text_run):
  (version,) = (text_run.config.outputs.mobile_path / text_run.config.model_name).iterdir()
  return version


def _source_model(text_run) -> str:
  """The SavedModel the pushed variant was converted from (here the distilled student)."""
  report = read_latest_run(text_run.config.metadata_path).optimization
  variant = json.loads((_mobile_version(text_run) / 'metadata.json').read_text())['variant']
  return report['sources'][report['variants'][variant]['source']]


def test_text_pipeline_serves_raw_strings(text_run):
  assert text_run.returncode == 0, text_run.output
  model = tf.saved_model.load(str(pushed_version_dirs(text_run)[-1]))
  raw = model.signatures['serving_raw']
  assert raw.structured_input_signature[1]['text'].dtype == tf.string
  reviews = ['A wonderful, moving film. The acting is superb!', 'Dull and far too long.', '']
  probabilities = raw(text=tf.constant(reviews))['probabilities'].numpy()
  assert probabilities.shape == (3, 1)
  assert np.all((probabilities >= 0) & (probabilities <= 1))
  # The raw strings of the eval reviews: positive ones score higher, on average, than
  # negative ones (a constant or a flipped model does not; eval AUC below is TFMA's, through
  # serving_default).
  texts, labels = [], []
  for row in eval_rows(text_run.config.pipeline.root):
    feature = tf.train.Example.FromString(row).features.feature
    texts.append(feature['text'].bytes_list.value[0])
    labels.append(int(feature[FAMILY.label_key].int64_list.value[0]))
  scores = raw(text=tf.constant(texts))['probabilities'].numpy().reshape(-1)
  labels = np.array(labels)
  assert set(labels.tolist()) == {0, 1}
  assert scores[labels == 1].mean() > scores[labels == 0].mean(), (scores, labels)


def test_the_model_is_a_transformer_encoder(text_run):
  model = tf.saved_model.load(str(pushed_version_dirs(text_run)[-1]))
  names = {variable.name for variable in model.variables}
  for part in ('multi_head_attention', 'layer_normalization', 'embedding'):
    assert any(part in name for name in names), (part, sorted(names))


def test_the_pushed_file_carries_its_tokenizer_and_labels(text_run):
  version = _mobile_version(text_run)
  metadata = json.loads((version / 'metadata.json').read_text())
  token_ids = metadata['inputs']['token_ids']
  assert token_ids['dtype'] == 'int32' and token_ids['shape'][1:] == [SEQUENCE_LENGTH]
  files = packed_files(version / 'model.tflite')
  assert files['labels.txt'].split() == ['negative', 'positive']
  vocabulary = files['vocabulary.txt'].splitlines()
  assert vocabulary[0] == '<PAD> 0' and vocabulary[1].startswith('<UNKNOWN> ')
  assert {'the 1', 'The 1', 'THE 1'} <= set(vocabulary)  # the most frequent word, 3 spellings
  from components.common import tflite_metadata
  (subgraph,) = tflite_metadata.read((version / 'model.tflite').read_bytes())['metadata'][
      'subgraph_metadata']
  (tokenizer,) = subgraph['input_tensor_metadata'][0]['process_units']
  assert tokenizer['options_type'] == 'RegexTokenizerOptions'
  assert tokenizer['options']['delim_regex_pattern'] == TOKEN_DELIMITER


def test_the_task_library_tokenizes_eval_texts_to_transforms_ids(text_run, tmp_path):
  """The phone's tokenizer (the Task Library's, from the file's metadata) against the
  SavedModel's own transform, on every eval review."""
  version = _mobile_version(text_run)
  rows = eval_rows(text_run.config.pipeline.root)
  files = packed_files(version / 'model.tflite')
  probe = token_ids_probe(SEQUENCE_LENGTH, TOKEN_DELIMITER, files['vocabulary.txt'].splitlines())
  on_phone = task_library_token_ids(probe, task_library_inputs(rows, FAMILY), tmp_path)
  model = tf.saved_model.load(_source_model(text_run))
  expected = model.signatures['transform_features'](examples=tf.constant(rows))['text_xf']
  assert on_phone.shape == (len(rows), SEQUENCE_LENGTH)
  assert (on_phone == expected.numpy()).all()


def test_the_nl_classifier_answers_raw_strings_as_serving_default_does(text_run):
  version = _mobile_version(text_run)
  rows = eval_rows(text_run.config.pipeline.root)
  answer = task_library.classify(task_library.TEXT, {'pushed': str(version / 'model.tflite')},
                                 task_library_inputs(rows, FAMILY))['pushed']
  expected = serving_default_classes(_source_model(text_run), rows, FAMILY.label_key)
  agreement = np.mean(np.array(answer['classes']) == np.array(expected))
  assert agreement >= 0.99, agreement


def test_distilled_student_is_smaller_and_both_are_measured(text_run):
  (line,) = [line for line in text_run.output.splitlines() if line.startswith('Distillation:')]
  teacher, student = (int(part.split(' parameters')[0].rsplit(' ', 1)[1].replace(',', ''))
                      for part in line.split(';'))
  assert student < teacher
  assert line.count('eval accuracy 0.') + line.count('eval accuracy 1.') == 2


def test_the_encoder_learns_more_than_a_constant_answer(text_run):
  """Always answering one class scores an AUC of 0.5; on these ~100 eval reviews (about
  half positive) a model that learned nothing stays below 0.62 nineteen times in twenty (the
  rank statistic's standard error is 0.058). A model that reads the 16 sentiment words
  ranks almost every review right (a fifth of the reviews also carry one word of the other
  side). On the IMDB sample this bar was 0.65 on 30 eval reviews, and one model scored
  0.52 or 0.78 depending only on which reviews the split drew."""
  (line,) = [line for line in text_run.output.splitlines() if line.startswith('Eval metrics:')]
  metrics = dict(part.strip().rsplit(' ', 1) for part in line.split(':', 1)[1].split(','))
  assert float(metrics['auc']) >= 0.8, line
