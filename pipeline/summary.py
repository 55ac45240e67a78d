"""What a run did, read back from ML Metadata: each component's state, the Evaluator's
verdict and metrics, and where the Pusher put the model."""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2
from tfx.orchestration import metadata

from components.common.evaluation import gate_failures, overall_metrics
from models.common.family import HISTORY_FILE

# Input resolution, not work: it "runs" on every run and has no cache.
_RESOLVER_TYPE = 'tfx.dsl.components.common.resolver.Resolver'
_STATE_NAMES = {value: name.lower() for name, value in
                metadata_store_pb2.Execution.State.items()}


@dataclasses.dataclass
class RunSummary:
  run_id: str
  states: Dict[str, str]  # node id -> 'complete' | 'cached' | 'failed' | ...
  blessed: Optional[bool] = None
  gate_failures: List[str] = dataclasses.field(default_factory=list)
  metrics: Dict[str, float] = dataclasses.field(default_factory=dict)
  pushed_to: Optional[str] = None
  optimization: Optional[dict] = None  # the ModelOptimizer's report.json
  distillation: Optional[dict] = None  # the Distiller's distillation.json
  training_history: Optional[dict] = None  # the Trainer's history.json
  mobile_pushed_to: Optional[str] = None
  span: Optional[int] = None  # the span ExampleGen read (0: the data has no spans)
  trained_spans: List[int] = dataclasses.field(default_factory=list)  # what Transform read
  # feature -> (distance, threshold) against the data accepted last; empty: not compared
  drift: Dict[str, Tuple[float, float]] = dataclasses.field(default_factory=dict)
  seconds: Dict[str, float] = dataclasses.field(default_factory=dict)  # node id -> duration
  started: float = 0.0  # seconds since the epoch
  # node id -> output key -> artifact URIs, for the run report
  outputs: Dict[str, Dict[str, List[str]]] = dataclasses.field(default_factory=dict)

  @property
  def privacy(self) -> Optional[dict]:
    """The (epsilon, delta) DP-SGD spent, when the Trainer trained privately."""
    return (self.training_history or {}).get('privacy')

  @property
  def has_spans(self) -> bool:
    return bool(self.span) or any(self.trained_spans)

  @property
  def executed(self) -> List[str]:
    """Components that ran their executor in this run (not served from the cache)."""
    return sorted(node for node, state in self.states.items() if state == 'complete')


def open_store(metadata_path: Path) -> mlmd.MetadataStore:
  if not metadata_path.is_file():
    raise FileNotFoundError(f'{metadata_path}: no ML Metadata store; run the pipeline first')
  return mlmd.MetadataStore(metadata.sqlite_metadata_connection_config(str(metadata_path)))


def _context_of(store, execution_id: int, type_name: str) -> Optional[metadata_store_pb2.Context]:
  """The execution's context of a TFX context type ('node', 'pipeline_run', ...)."""
  for context in store.get_contexts_by_execution(execution_id):
    if store.get_context_types_by_id([context.type_id])[0].name == type_name:
      return context
  return None


def node_id(store, execution) -> str:
  node = _context_of(store, execution.id, 'node')
  return node.name.split('.', 1)[1] if node else execution.name


def artifacts_by_key(store, execution_id: int, event_type=metadata_store_pb2.Event.OUTPUT
                     ) -> Dict[str, List[metadata_store_pb2.Artifact]]:
  """An execution's output (or input) artifacts by their key, e.g. 'model'."""
  events = [e for e in store.get_events_by_execution_ids([execution_id]) if e.type == event_type]
  artifacts = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in events])}
  grouped: Dict[str, List[metadata_store_pb2.Artifact]] = {}
  for event in events:
    grouped.setdefault(event.path.steps[0].key, []).append(artifacts[event.artifact_id])
  return grouped


def _drift(measurements_uri: str) -> Dict[str, Tuple[float, float]]:
  from components.validation_gate.drift import read_measurements
  return {'/'.join(info.path.step): (info.drift_measurements[0].value,
                                     info.drift_measurements[0].threshold)
          for info in read_measurements(measurements_uri).drift_skew_info
          if info.drift_measurements}


def _span(artifact: metadata_store_pb2.Artifact) -> int:
  return artifact.custom_properties['span'].int_value if 'span' in artifact.custom_properties else 0


def _read_json(folder: str, name: str) -> dict:
  with open(os.path.join(folder, name), encoding='utf-8') as f:
    return json.load(f)


def read_latest_run(metadata_path: Path) -> RunSummary:
  store = open_store(metadata_path)
  runs = store.get_contexts_by_type('pipeline_run')
  if not runs:
    raise LookupError(f'{metadata_path}: no pipeline run recorded yet')
  return read_run(store, max(runs, key=lambda context: context.id))


def read_run(store, run: metadata_store_pb2.Context) -> RunSummary:
  summary = RunSummary(run_id=run.name, states={}, started=run.create_time_since_epoch / 1000)
  executions = store.get_executions_by_context(run.id)
  type_names = {t.id: t.name for t in store.get_execution_types_by_id(
      list({e.type_id for e in executions}))}
  for execution in executions:
    if type_names[execution.type_id] == _RESOLVER_TYPE:
      continue
    node = node_id(store, execution)
    summary.states[node] = _STATE_NAMES.get(execution.last_known_state, 'unknown')
    summary.seconds[node] = (execution.last_update_time_since_epoch
                             - execution.create_time_since_epoch) / 1000
    outputs = artifacts_by_key(store, execution.id)
    summary.outputs[node] = {key: [a.uri for a in artifacts]
                             for key, artifacts in outputs.items()}
    if 'examples' in outputs and node.endswith('ExampleGen'):
      summary.span = _span(outputs['examples'][0])
    if 'transform_graph' in outputs:
      inputs = artifacts_by_key(store, execution.id, metadata_store_pb2.Event.INPUT)
      summary.trained_spans = sorted({_span(a) for a in inputs.get('examples', [])})
    if 'evaluation' in outputs:
      uri = outputs['evaluation'][0].uri
      summary.metrics = overall_metrics(uri)
      summary.gate_failures = gate_failures(uri)
    if 'blessing' in outputs:
      blessed = outputs['blessing'][0].custom_properties.get('blessed')
      summary.blessed = bool(blessed and blessed.int_value == 1)
    if 'drift_measurements' in outputs:
      summary.drift = _drift(outputs['drift_measurements'][0].uri)
    if 'report' in outputs:
      from components.common.artifacts import OPTIMIZATION_REPORT_FILE
      summary.optimization = _read_json(outputs['report'][0].uri, OPTIMIZATION_REPORT_FILE)
    if 'model_run' in outputs:
      run_dir = outputs['model_run'][0].uri
      if os.path.isfile(os.path.join(run_dir, HISTORY_FILE)):
        summary.training_history = _read_json(run_dir, HISTORY_FILE)
    if 'distillation' in outputs:
      from components.distiller.executor import REPORT_FILE as DISTILLATION_FILE
      summary.distillation = _read_json(outputs['distillation'][0].uri, DISTILLATION_FILE)
    if 'pushed_mobile_model' in outputs:
      properties = outputs['pushed_mobile_model'][0].custom_properties
      if properties['pushed'].int_value == 1:
        summary.mobile_pushed_to = properties['pushed_destination'].string_value
    if 'pushed_model' in outputs:
      properties = outputs['pushed_model'][0].custom_properties
      if properties.get('pushed') and properties['pushed'].int_value == 1:
        summary.pushed_to = properties['pushed_destination'].string_value
  return summary


@dataclasses.dataclass
class PushedVersion:
  version: int
  path: str
  run_id: str
  metrics: Dict[str, float]


def pushed_version(properties) -> Optional[int]:
  """A PushedModel's version: a string as TFX's Pusher writes it (an int in stores written
  before 2026-12-01)."""
  if 'pushed_version' not in properties:
    return None
  value = properties['pushed_version']
  return int(value.string_value) if value.string_value else value.int_value


def pushed_versions(metadata_path: Path) -> List[PushedVersion]:
  """Every version the pipeline pushed, with the run that produced it and its metrics."""
  store = open_store(metadata_path)
  versions = {}
  for artifact in store.get_artifacts_by_type('PushedModel'):
    properties = artifact.custom_properties
    if 'pushed_version' not in properties or properties['pushed'].int_value != 1:
      continue
    version = pushed_version(properties)
    if version in versions:
      continue  # the same push, linked again by a cached re-run
    producers = [e for e in store.get_events_by_artifact_ids([artifact.id])
                 if e.type == metadata_store_pb2.Event.OUTPUT]
    execution_id = min(e.execution_id for e in producers)
    run = _context_of(store, execution_id, 'pipeline_run')
    run_summary = read_run(store, run) if run else None
    versions[version] = PushedVersion(
        version, properties['pushed_destination'].string_value,
        run.name if run else '?', run_summary.metrics if run_summary else {})
  return [versions[v] for v in sorted(versions)]


def latest_schema_uri(metadata_path: Path) -> str:
  store = open_store(metadata_path)
  schemas = store.get_artifacts_by_type('Schema')
  if not schemas:
    raise LookupError(f'{metadata_path}: no schema recorded; run the pipeline first')
  return max(schemas, key=lambda a: a.id).uri
