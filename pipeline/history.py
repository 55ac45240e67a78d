"""Past runs and the lineage of a pushed version, read from ML Metadata (`forge runs`,
`forge lineage`). TFX records every artifact and execution there; these walk it."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Dict, List, Optional

from ml_metadata.proto import metadata_store_pb2

from pipeline.summary import (RunSummary, artifacts_by_key, node_id, open_store, pushed_version,
                              read_run)


@dataclasses.dataclass
class RunRow:
  run_id: str  # the local runner's is the start time
  status: str  # complete | failed | interrupted
  blessed: Optional[bool]
  metric: str  # e.g. 'accuracy 0.9804'
  pushed_version: Optional[str]
  spans: str = ''  # 'spans 2008-2009' when the data has spans


def describe_spans(summary: RunSummary) -> str:
  """'span 2009', or 'spans 2008, 2009' for a window; '' when the data has no spans."""
  if not summary.has_spans:
    return ''
  spans = summary.trained_spans or [summary.span]
  return f'span{"s" if len(spans) > 1 else ""} {", ".join(str(s) for s in spans)}'


def _status(summary: RunSummary) -> str:
  states = set(summary.states.values())
  if 'failed' in states:
    return 'failed'
  return 'complete' if states <= {'complete', 'cached'} else 'interrupted'


# Config gate names whose TFMA metric is not named after them.
_TFMA_NAMES = {'rmse': 'root_mean_squared_error', 'mae': 'mean_absolute_error'}


def _key_metric(summary: RunSummary, gated: List[str]) -> str:
  for name in gated:
    name = _TFMA_NAMES.get(name, name)
    matches = sorted(m for m in summary.metrics if m == name or m.endswith(f'_{name}'))
    if matches:
      return f'{matches[0]} {summary.metrics[matches[0]]:.4f}'
  return ''


def runs(metadata_path: Path, gated_metrics: List[str]) -> List[RunRow]:
  """Every run of the pipeline, oldest first."""
  store = open_store(metadata_path)
  rows = []
  for context in sorted(store.get_contexts_by_type('pipeline_run'), key=lambda c: c.id):
    summary = read_run(store, context)
    rows.append(RunRow(
        summary.run_id, _status(summary), summary.blessed,
        _key_metric(summary, gated_metrics),
        summary.pushed_to.rstrip('/').rsplit('/', 1)[-1] if summary.pushed_to else None,
        describe_spans(summary)))
  return rows


@dataclasses.dataclass
class Step:
  """One execution in a version's lineage: what ran, what it read and wrote."""
  node: str
  execution_id: int
  properties: Dict[str, str]  # the execution's settings, e.g. input_base
  inputs: Dict[str, List[metadata_store_pb2.Artifact]]
  outputs: Dict[str, List[metadata_store_pb2.Artifact]]


def _producer(store, artifact_id: int) -> Optional[Step]:
  """The first execution that wrote the artifact (a cached re-run links it again later)."""
  writes = [e for e in store.get_events_by_artifact_ids([artifact_id])
            if e.type == metadata_store_pb2.Event.OUTPUT]
  if not writes:
    return None
  (execution,) = store.get_executions_by_id([min(e.execution_id for e in writes)])
  properties = {key: str(value.string_value or value.int_value)
                for key, value in execution.custom_properties.items()
                if not key.startswith('__')}
  return Step(node_id(store, execution), execution.id, properties,
              artifacts_by_key(store, execution.id, metadata_store_pb2.Event.INPUT),
              artifacts_by_key(store, execution.id))


def lineage(metadata_path: Path, version: int) -> List[Step]:
  """The executions upstream of a pushed version, from the Pusher back to ExampleGen,
  each once, newest first."""
  store = open_store(metadata_path)
  pushed = [a for a in store.get_artifacts_by_type('PushedModel')
            if pushed_version(a.custom_properties) == version]
  if not pushed:
    raise LookupError(f'{metadata_path}: no pushed version {version}; `forge versions` lists '
                      'the pushed ones')
  steps, seen, queue = [], set(), [pushed[0].id]
  while queue:
    step = _producer(store, queue.pop(0))
    if step is None or step.execution_id in seen:
      continue
    seen.add(step.execution_id)
    steps.append(step)
    queue.extend(a.id for artifacts in step.inputs.values() for a in artifacts)
  return sorted(steps, key=lambda step: -step.execution_id)
