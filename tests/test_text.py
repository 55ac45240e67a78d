"""The text family: a Transformer encoder trained on the IMDB sample end to end, served from
raw strings. (tests/test_serving.py also runs its serving checks on this model.)"""
from base import env  # noqa: F401  (before TensorFlow)

import numpy as np
import tensorflow as tf

from tests.conftest import pushed_version_dirs

EXIT_NO_MOBILE = 6


def test_text_pipeline_serves_raw_strings(text_run):
  assert text_run.returncode == EXIT_NO_MOBILE, text_run.output
  model = tf.saved_model.load(str(pushed_version_dirs(text_run)[-1]))
  raw = model.signatures['serving_raw']
  assert raw.structured_input_signature[1]['text'].dtype == tf.string
  reviews = ['A wonderful, moving film. The acting is superb!', 'Dull and far too long.', '']
  probabilities = raw(text=tf.constant(reviews))['probabilities'].numpy()
  assert probabilities.shape == (3, 1)
  assert np.all((probabilities >= 0) & (probabilities <= 1))


def test_the_model_is_a_transformer_encoder(text_run):
  model = tf.saved_model.load(str(pushed_version_dirs(text_run)[-1]))
  names = {variable.name for variable in model.variables}
  for part in ('multi_head_attention', 'layer_normalization', 'embedding'):
    assert any(part in name for name in names), (part, sorted(names))


def test_tflite_refusal_names_the_tokenizer_ops(text_run):
  (line,) = [line for line in text_run.output.splitlines() if 'float32 not built' in line]
  for op in ('StringSplitV2', 'StaticRegexReplace', 'StringLower'):
    assert op in line
  assert 'Mobile: nothing pushed' in text_run.output


def test_distilled_student_is_smaller_and_both_are_measured(text_run):
  (line,) = [line for line in text_run.output.splitlines() if line.startswith('Distillation:')]
  teacher, student = (int(part.split(' parameters')[0].rsplit(' ', 1)[1].replace(',', ''))
                      for part in line.split(';'))
  assert student < teacher
  assert line.count('eval accuracy 0.') + line.count('eval accuracy 1.') == 2


def test_the_encoder_learns_more_than_a_constant_answer(text_run):
  """Always answering one class scores an AUC of 0.5. The trained encoder ranks the 30 eval
  reviews far better (0.82-0.84 measured on 2026-12-01). Accuracy is not asserted: at the
  0.5 threshold it moved between 0.60 and 0.73 from run to run on 30 rows, around the
  majority rate (0.63), while the ranking held."""
  (line,) = [line for line in text_run.output.splitlines() if line.startswith('Eval metrics:')]
  metrics = dict(part.strip().rsplit(' ', 1) for part in line.split(':', 1)[1].split(','))
  assert float(metrics['auc']) >= 0.7, line
