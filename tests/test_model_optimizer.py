"""ModelOptimizer's parts that need no pipeline run: the budget gate, and the refusal of a
graph that needs TensorFlow ops TFLite lacks."""
from base import env  # noqa: F401  (before TensorFlow)

import pytest
import tensorflow as tf

from base.settings import OptimizationSection
from components.model_optimizer import convert, table
from components.model_optimizer.executor import _select


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
