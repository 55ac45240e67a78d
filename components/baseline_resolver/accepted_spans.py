"""The training window: this run's span and the newest accepted earlier spans, `num_spans`
in all (config data.window).

TFX's SpanRangeStrategy picks the spans (RangeConfig.rolling_range, as TFX defines the
window); what it cannot know is which earlier spans were refused, so they are left out first
here: an Examples artifact counts when the statistics StatisticsGen computed from it were
accepted by a DataValidationGate (accepted_statistics.py). Of a span ingested more than once
(new versions, changed files), the newest artifact stands for it.
"""
from typing import Dict, List, Optional, Set

from ml_metadata.proto import metadata_store_pb2
from tfx import types
from tfx.dsl.components.common import resolver
from tfx.dsl.input_resolution.strategies.span_range_strategy import SpanRangeStrategy
from tfx.proto import range_config_pb2

from components.baseline_resolver.accepted_statistics import accepted_artifact_ids

SPAN = 'span'


def _accepted_examples(store, examples_ids: List[int]) -> Set[int]:
  """Examples whose statistics a gate accepted: Examples -> StatisticsGen -> statistics."""
  reads = [event for event in store.get_events_by_artifact_ids(examples_ids)
           if event.type == metadata_store_pb2.Event.INPUT]
  outputs = [event for event in store.get_events_by_execution_ids(
      {event.execution_id for event in reads}) if event.type == metadata_store_pb2.Event.OUTPUT]
  accepted_outputs = accepted_artifact_ids(store, [event.artifact_id for event in outputs])
  accepted_executions = {event.execution_id for event in outputs
                         if event.artifact_id in accepted_outputs}
  return {event.artifact_id for event in reads if event.execution_id in accepted_executions}


class AcceptedSpansStrategy(resolver.ResolverStrategy):
  """Inputs: `examples` (every Examples ExampleGen made) and `candidate` (this run's).
  Resolves `examples` to the candidate and the accepted spans before it, newest first,
  `num_spans` spans at most."""

  def __init__(self, num_spans: int):
    self._num_spans = num_spans

  def resolve_artifacts(self, store, input_dict: Dict[str, List[types.Artifact]]
                        ) -> Optional[Dict[str, List[types.Artifact]]]:
    candidates = input_dict['candidate']
    if not candidates:
      return None
    candidate_ids = {artifact.id for artifact in candidates}
    earlier = [a for a in input_dict['examples'] if a.id not in candidate_ids]
    accepted = _accepted_examples(store, [a.id for a in earlier]) if earlier else set()
    newest_per_span: Dict[int, types.Artifact] = {}
    for artifact in sorted([a for a in earlier if a.id in accepted] + candidates,
                           key=lambda a: a.id):
      newest_per_span[artifact.get_int_custom_property(SPAN)] = artifact
    # The candidate's span is the newest: a late, older span never displaces the window.
    newest_span = max(a.get_int_custom_property(SPAN) for a in candidates)
    window = [a for span, a in newest_per_span.items() if span <= newest_span]
    range_config = range_config_pb2.RangeConfig(
        rolling_range=range_config_pb2.RollingRange(num_spans=self._num_spans))
    # pylint: disable=protected-access  (its documented entry point needs a Resolver node)
    resolved = SpanRangeStrategy(range_config)._resolve({'examples': window})
    return {'examples': resolved['examples'], 'candidate': candidates}
