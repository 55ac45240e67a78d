"""The baseline for the Evaluator: the latest blessed model that is not the candidate.

TFX's LatestBlessedModelStrategy would return the candidate itself when the Trainer's
output came from the cache (it was blessed last run), so every unchanged re-run would
re-evaluate a model against itself. Excluding the candidate keeps the Evaluator's inputs
unchanged between identical runs, so it is cached too. A baseline the Evaluator cannot
run on this data (other inputs or outputs) is left out, and the run says why.
"""
import logging
from typing import Dict, List, Optional

from tfx import types
from tfx.dsl.input_resolution.strategies.latest_blessed_model_strategy import (
    LatestBlessedModelStrategy)
from tfx.utils import path_utils

from components.common.saved_model import signature_io
from base.signature_names import SERVING_RAW

progress = logging.getLogger('forge.progress')


def incompatibility(baseline: types.Artifact, candidate: types.Artifact) -> Optional[str]:
  """Why the baseline cannot be evaluated beside the candidate on this data (None: it
  can). TFMA feeds both the same examples and compares the same output: a baseline that
  takes other raw features (a column renamed, added or dropped) or answers in another
  shape (other classes, another task) would fail inside the Evaluator."""
  return incompatible_models(path_utils.serving_model_path(baseline.uri),
                             path_utils.serving_model_path(candidate.uri))


def incompatible_models(baseline_dir: str, candidate_dir: str) -> Optional[str]:
  """incompatibility() for two SavedModel directories."""
  (old_inputs, old_outputs), (new_inputs, new_outputs) = (
      signature_io(model_dir, SERVING_RAW) for model_dir in (baseline_dir, candidate_dir))
  if old_inputs != new_inputs:
    changed = sorted(set(old_inputs).symmetric_difference(new_inputs)) or sorted(
        name for name in old_inputs if old_inputs[name] != new_inputs[name])
    return f'its raw inputs differ from the candidate\'s ({", ".join(changed)})'
  if old_outputs != new_outputs:
    return 'its outputs differ from the candidate\'s (other classes or another task)'
  return None


class LatestBlessedOtherModelStrategy(LatestBlessedModelStrategy):
  """Inputs: `model`, `model_blessing` (all of them) and `candidate` (the Trainer's model)."""

  def resolve_artifacts(self, store, input_dict: Dict[str, List[types.Artifact]]
                        ) -> Optional[Dict[str, List[types.Artifact]]]:
    input_dict = dict(input_dict)
    candidates = input_dict.pop('candidate', [])
    candidate_ids = {artifact.id for artifact in candidates}
    input_dict['model'] = [m for m in input_dict['model'] if m.id not in candidate_ids]
    resolved = super().resolve_artifacts(store, input_dict)
    if resolved is None:
      return None
    if resolved.get('model') and candidates:
      reason = incompatibility(resolved['model'][0], candidates[0])
      if reason:
        progress.info('  Baseline model %s is not comparable: %s; evaluating without a '
                      'baseline (no change thresholds)', resolved['model'][0].uri, reason)
        resolved = {**resolved, 'model': [], 'model_blessing': []}
    return {**resolved, 'candidate': candidates}
