"""ModelOptimizer's parts that need no pipeline run: the budget gate, the refusal of a
graph that needs TensorFlow ops TFLite lacks, and a converter crash that costs one variant."""
from base import env  # noqa: F401  (before TensorFlow)

import numpy as np
import pytest
import tensorflow as tf

from base.settings import OptimizationSection
from components.model_optimizer import convert, table, variant
from components.model_optimizer.executor import _select
from tests.tflite_probe import build_unless_dynamic_range


def _row(size_kb, gzip_kb, accuracy):
  return {'size_bytes': size_kb * 1024, 'gzip_bytes': gzip_kb * 1024, 'accuracy': accuracy,
          'latency_ms_p50': 0.1, 'latency_ms_p90': 0.2, 'max_abs_diff_vs_source': 0.01}


def test_smallest_download_within_budget_is_selected():
  variants = {'float32': _row(600, 550, 0.98), 'int8': _row(150, 120, 0.975),
              'pruned_int8': _row(150, 60, 0.95)}
  selected = _select(variants, {'accuracy': 0.98},
                     OptimizationSection(accuracy_budget=1.0))
  assert selected == 'int8'  # pruned_int8 is smaller but lost 3 points
  assert variants['pruned_int8']['missed'] == [
      'accuracy drop 3.00 points > budget 1.00 (optimization.accuracy_budget)']
  assert variants['int8']['eligible'] and variants['float32']['eligible']


def test_no_variant_within_budget_names_each_missed_budget():
  variants = {'float32': _row(600, 550, 0.98), 'int8': _row(150, 120, 0.97)}
  assert _select(variants, {'accuracy': 0.98},
                 OptimizationSection(accuracy_budget=0.5, size_budget_kb=100)) is None
  assert variants['float32']['missed'] == [
      'size 600.0 KB > budget 100.0 KB (optimization.size_budget_kb)']
  assert len(variants['int8']['missed']) == 2
  report = {'savedmodel': {'accuracy': 0.98}, 'variants': variants, 'not_built': {}}
  assert 'int8 missed: accuracy drop 1.00 points > budget 0.50' in '\n'.join(table.lines(report))


def test_a_regression_variant_is_judged_by_its_relative_rmse_increase():
  variants = {'float32': {**_row(30, 16, 0.0), 'rmse': 57.0},
              'int8': {**_row(33, 10, 0.0), 'rmse': 58.3},
              'pruned_int8': {**_row(33, 9, 0.0), 'rmse': 61.0}}
  selected = _select(variants, {'rmse': 57.0, 'mae': 45.0},
                     OptimizationSection(rmse_budget=0.05))
  assert selected == 'int8'  # pruned_int8 is smaller but 7% worse
  assert variants['pruned_int8']['missed'] == [
      'RMSE +7.02% > budget +5.00% (optimization.rmse_budget)']
  report = {'savedmodel': {'rmse': 57.0}, 'variants': variants, 'not_built': {}}
  lines = table.lines(report)
  assert 'rmse +%' in lines[0] and '+2.28' in '\n'.join(lines)


class _HashingModel(tf.Module):
  """A mobile signature that hashes strings: TFLite has no StringToHashBucketFast."""

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name='company')])
  def mobile(self, company):
    buckets = tf.strings.to_hash_bucket_fast(company, 10)
    return {'probabilities': tf.one_hot(buckets, 10)}


def test_graph_needing_tensorflow_ops_is_refused_with_their_names(tmp_path):
  model = _HashingModel()
  tf.saved_model.save(model, str(tmp_path), signatures={'mobile': model.mobile})
  with pytest.raises(convert.NeedsTensorFlowOps) as refused:
    convert.convert(str(tmp_path), 'float32', lambda: iter(()))
  assert refused.value.ops == ['StringToHashBucketFast']
  assert 'models/common/preprocessing.py' in str(refused.value)


class _StringScorer(tf.Module):
  """A score that depends on a string input, by comparison and by a vocabulary table."""

  def __init__(self):
    super().__init__()
    self.table = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(
        tf.constant(['a', 'b']), tf.constant([0, 1], tf.int64)), default_value=-1)

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name='s'),
                                tf.TensorSpec([None], tf.float32, name='x')])
  def mobile(self, s, x):
    is_a = tf.cast(tf.equal(s, 'a'), tf.float32)
    return {'score': x + 100.0 * is_a + 50.0 * tf.cast(self.table.lookup(s), tf.float32)}


def test_int8_is_calibrated_on_the_string_inputs(tmp_path):
  """Calibrated on rows whose strings reached the calibrator empty (neither 'a' nor in the
  table), the int8 score's range leaves out the string terms: 'a' (100 + x) scored 0.0."""
  module = _StringScorer()
  tf.saved_model.save(module, str(tmp_path), signatures={'mobile': module.mobile})
  # Object arrays, as raw_columns and tf.string's numpy type give them.
  strings = np.array([b'a', b'b'] * 20, dtype=object)
  xs = np.linspace(0, 1, 40).astype(np.float32)
  rows = lambda: ({'s': strings[i:i + 1], 'x': xs[i:i + 1]} for i in range(len(xs)))
  model = convert.convert(str(tmp_path), 'int8', rows)
  runner = tf.lite.Interpreter(model_content=model).get_signature_runner('mobile')
  for text, expected in ((b'a', 100.5), (b'b', 50.5)):
    (score,) = runner(s=np.array([text], dtype=object), x=np.array([0.5], np.float32))['score']
    assert abs(score - expected) < 2.0, (text, score)


class _Scorer(tf.Module):
  """A two-class mobile signature on one raw number."""

  @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name='x')])
  def mobile(self, x):
    return {'probabilities': tf.nn.softmax(tf.stack([x, -x], axis=1))}


def test_a_converter_killed_by_a_signal_fails_only_its_variant(tmp_path):
  module = _Scorer()
  tf.saved_model.save(module, str(tmp_path / 'model'), signatures={'mobile': module.mobile})
  columns = {'x': np.linspace(-2, 2, 40).astype(np.float32)}
  labels = (columns['x'] < 0).astype(np.int64)
  reference = module.mobile(x=tf.constant(columns['x']))['probabilities'].numpy()
  variant.start_server()
  try:
    answers = {name: variant.build_isolated(variant.Request(
        variant=name, saved_model_dir=str(tmp_path / 'model'),
        output_path=str(tmp_path / f'{name}.tflite'), calibration=None, int8_io=False,
        columns=columns, labels=labels, reference=reference,
        reference_classes=['a' if x >= 0 else 'b' for x in columns['x']], latency_runs=10,
        threads=1, regression=False, metadata={
            'name': 'm', 'version': '', 'description': '', 'author': '', 'kind': 'table',
            'class_names': ['a', 'b'], 'inputs': {'x': 'x'}, 'output_description': ''}),
        target=build_unless_dynamic_range) for name in ('float32', 'dynamic_range', 'float16')}
  finally:
    variant.stop_server()
  assert set(answers['float32']) == set(answers['float16']) == {'measured'}
  assert answers['float32']['measured']['top1_vs_savedmodel'] == 1.0
  assert answers['dynamic_range'] == {'refused': (
      'the converter process crashed while building dynamic_range (killed by SIGSEGV, '
      'signal 11); the other variants are unaffected')}
  assert not (tmp_path / 'dynamic_range.tflite').exists()
  report = {'savedmodel': {'accuracy': 1.0}, 'not_built': {'dynamic_range': answers[
      'dynamic_range']['refused']}, 'variants': {}}
  assert any(line.startswith('dynamic_range not built: the converter process crashed')
             for line in table.lines(report))
