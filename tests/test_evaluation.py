"""The Evaluator's config: gates judge all eval rows; slices are reported, not gated."""
import tensorflow_model_analysis as tfma

from models.common.family import load_family
from pipeline.config import GatesSection
from pipeline.evaluation import eval_config


def test_gates_apply_to_all_rows_and_slices_are_only_reported():
  gates = GatesSection(metrics={'auc': {'min': 0.8, 'max_drop': 0.01}},
                       slices=['payment_type'])
  config = eval_config(load_family('taxi'), gates)
  assert [list(spec.feature_keys) for spec in config.slicing_specs] == [[], ['payment_type']]
  (auc,) = [m for m in config.metrics_specs[0].metrics if m.class_name == 'AUC']
  assert not auc.HasField('threshold')  # would gate every slice, e.g. one-class ones
  (overall,) = auc.per_slice_thresholds
  assert list(overall.slicing_specs) == [tfma.SlicingSpec()]
  assert overall.threshold.value_threshold.lower_bound.value == 0.8
  assert overall.threshold.change_threshold.absolute.value == -0.01
