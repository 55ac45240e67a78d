"""The baseline for the Evaluator: the latest blessed model that is not the candidate.

TFX's LatestBlessedModelStrategy would return the candidate itself when the Trainer's
output came from the cache (it was blessed last run), so every unchanged re-run would
re-evaluate a model against itself. Excluding the candidate keeps the Evaluator's inputs
unchanged between identical runs, so it is cached too.
"""
from typing import Dict, List, Optional

from tfx import types
from tfx.dsl.input_resolution.strategies.latest_blessed_model_strategy import (
    LatestBlessedModelStrategy)


class LatestBlessedOtherModelStrategy(LatestBlessedModelStrategy):
  """Inputs: `model`, `model_blessing` (all of them) and `candidate` (the Trainer's model)."""

  def resolve_artifacts(self, store, input_dict: Dict[str, List[types.Artifact]]
                        ) -> Optional[Dict[str, List[types.Artifact]]]:
    input_dict = dict(input_dict)
    candidates = input_dict.pop('candidate', [])
    candidate_ids = {artifact.id for artifact in candidates}
    input_dict['model'] = [m for m in input_dict['model'] if m.id not in candidate_ids]
    resolved = super().resolve_artifacts(store, input_dict)
    return None if resolved is None else {**resolved, 'candidate': candidates}
