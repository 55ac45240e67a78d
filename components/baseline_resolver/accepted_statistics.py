"""The drift baseline: statistics of the newest data that passed the DataValidationGate.

TFX's ExampleValidator compares statistics against a schema only, and no TFX resolver
strategy knows which earlier data was accepted, so this strategy is written here. "Accepted"
means a DataValidationGate execution read the statistics and finished (COMPLETE, or CACHED
when an identical run reused it): data a gate refused never becomes the baseline.
"""
from typing import Dict, List, Optional, Set

from ml_metadata.proto import metadata_store_pb2
from tfx import types
from tfx.dsl.components.common import resolver

GATE_TYPE_SUFFIX = 'DataValidationGate'
FINISHED = (metadata_store_pb2.Execution.COMPLETE, metadata_store_pb2.Execution.CACHED)


def accepted_artifact_ids(store, artifact_ids: List[int]) -> Set[int]:
  """The ids among `artifact_ids` that a finished DataValidationGate execution read."""
  reads = [event for event in store.get_events_by_artifact_ids(artifact_ids)
           if event.type == metadata_store_pb2.Event.INPUT]
  executions = store.get_executions_by_id({event.execution_id for event in reads})
  type_names = {execution_type.id: execution_type.name for execution_type in
                store.get_execution_types_by_id({e.type_id for e in executions})}
  accepted_executions = {e.id for e in executions
                         if type_names[e.type_id].endswith(GATE_TYPE_SUFFIX)
                         and e.last_known_state in FINISHED}
  return {event.artifact_id for event in reads if event.execution_id in accepted_executions}


class LatestAcceptedStatisticsStrategy(resolver.ResolverStrategy):
  """Inputs: `statistics` (every ExampleStatistics) and `candidate` (this run's). Resolves
  `statistics` to the newest accepted other one; to nothing on a pipeline's first run, or
  when a gate accepted this very data before (nothing to compare: it is the baseline, and
  re-runs of accepted data stay cached)."""

  def resolve_artifacts(self, store, input_dict: Dict[str, List[types.Artifact]]
                        ) -> Optional[Dict[str, List[types.Artifact]]]:
    candidates = input_dict.get('candidate', [])
    candidate_ids = {artifact.id for artifact in candidates}
    every_id = [a.id for a in input_dict['statistics']] + list(candidate_ids)
    accepted = accepted_artifact_ids(store, every_id) if every_id else set()
    newest = max((a for a in input_dict['statistics']
                  if a.id in accepted and a.id not in candidate_ids),
                 key=lambda a: (a.mlmd_artifact.create_time_since_epoch, a.id), default=None)
    compare = newest is not None and not candidate_ids & accepted
    return {'statistics': [newest] if compare else [], 'candidate': candidates}
