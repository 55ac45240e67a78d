"""A replay of a compiled KFP pipeline spec, task by task, as the KFP backend would run it.

TEST DOUBLE, not a product runner: no Kubeflow cluster is reachable from here, so this
stands in for the backend's driver and launcher (kubeflow/pipelines backend/src/v2/driver,
component/launcher_v2.go) closely enough to run the spec's own containers' command lines:

- walks the root DAG in dependency order (dependentTasks and producerTask);
- builds each task's ExecutorInput as the driver does: parameterValues from `constant`s and
  run parameters, input artifacts (type, URI, name, metadata) from the producers' outputs,
  one output artifact per output definition under <pipeline root>/<task>/<run>/<key>, and
  outputFile beside them (driver/driver.go, provisionOutputs);
- substitutes `{{$}}` and the launcher's other placeholders (compileCmdAndArgs);
- runs the container's exact command and arguments (`python -m tfx.orchestration.kubeflow.
  v2.container.kubeflow_v2_run_executor ...`, the image's entry point) with this venv's
  python, in a fresh process with the image's environment (TF_USE_LEGACY_KERAS=1);
- reads executor_output.json and merges each output's URI and metadata into the
  registered artifact (launcher_v2.go, uploadOutputArtifacts / mergeRuntimeArtifacts).

The bucket is a local folder: every `remote` prefix of `path_map` (gs://bucket/, the
image's /app/) is replaced by a local one in the ExecutorInput. Records of every output
artifact are kept across runs (the stand-in for ML Metadata), so `vertex=True` can answer
a resolver executor's outputArtifactQueries (Vertex AI runs those; open-source KFP refuses
them) and runs the ExampleGen's lifecycle.preCacheCheck driver first, as Vertex does; the
open-source backend never reads `lifecycle`.

Not replayed: the Go driver's ML Metadata registration and cache lookups, object-store
transfers (the launcher's download/upload), pod scheduling, retries, resources.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional

LAUNCHER_ENV = {'TF_USE_LEGACY_KERAS': '1', 'TF_CPP_MIN_LOG_LEVEL': '2',
                'PYTHONUNBUFFERED': '1'}  # the image's ENV (kubeflow/Dockerfile)


class ReplayError(RuntimeError):
  pass


@dataclass
class TaskRun:
  task: str
  seconds: float
  outputs: Dict[str, List[dict]]  # output key -> RuntimeArtifacts (protobuf JSON)
  executor_input: dict = field(repr=False, default_factory=dict)


def _title(artifact_type: dict) -> str:
  if 'schemaTitle' in artifact_type:
    return artifact_type['schemaTitle']
  match = re.search(r'^title: *(\S+)', artifact_type.get('instanceSchema', ''), re.M)
  return match.group(1) if match else 'system.Artifact'


def _order(tasks: Dict[str, dict]) -> List[str]:
  """Tasks in dependency order (ties by name, as the Argo compiler sorts them)."""
  upstream = {name: set(task.get('dependentTasks', [])) | {
      artifact['taskOutputArtifact']['producerTask']
      for artifact in task.get('inputs', {}).get('artifacts', {}).values()
      if 'taskOutputArtifact' in artifact} for name, task in tasks.items()}
  order: List[str] = []
  while len(order) < len(tasks):
    ready = sorted(name for name in tasks if name not in order and upstream[name] <= set(order))
    if not ready:
      raise ReplayError(f'cycle among {sorted(set(tasks) - set(order))}')
    order.append(ready[0])
  return order


class Replay:
  """Runs a PipelineJob's spec (TFX's KubeflowV2DagRunner output) here; see the module."""

  def __init__(self, job: dict, local_root: Path, path_map: Dict[str, str], *,
               vertex: bool = False, python: str = sys.executable,
               cwd: Optional[Path] = None, log: Callable[[str], None] = print):
    self.spec = job['pipelineSpec']
    self.runtime_config = job['runtimeConfig']
    self.local_root = Path(local_root)
    self.path_map = dict(path_map)
    self.vertex = vertex
    self.python = python
    self.cwd = cwd  # the image's WORKDIR (/app): the project folder
    self.log = log
    self.records: List[dict] = []  # {'run', 'task', 'key', 'artifact'}: every output

  def local(self, text: str) -> str:
    for remote, local in self.path_map.items():
      text = text.replace(remote, local)
    return text

  # The driver's part: parameters, artifacts, output locations.
  def _parameters(self, task: dict, run_parameters: dict) -> dict:
    values = {}
    for key, spec in task.get('inputs', {}).get('parameters', {}).items():
      if 'componentInputParameter' in spec:
        values[key] = run_parameters[spec['componentInputParameter']]
      elif 'constant' in spec.get('runtimeValue', {}):
        values[key] = spec['runtimeValue']['constant']
      else:
        raise ReplayError(f'parameter {key}: {spec} is not a form the driver resolves')
    return values

  def _executor_input(self, name: str, task: dict, component: dict, run_id: str,
                      run_parameters: dict, done: Dict[str, TaskRun]) -> dict:
    artifacts = {}
    for key, spec in task.get('inputs', {}).get('artifacts', {}).items():
      producer = spec['taskOutputArtifact']
      artifacts[key] = {'artifacts': done[producer['producerTask']].outputs[
          producer['outputArtifactKey']]}
    task_root = f'{self.local(self.runtime_config["gcsOutputDirectory"])}/{name}/{run_id}'
    outputs = {key: {'artifacts': [{
        'name': f'{run_id}/{name}/{key}', 'type': definition['artifactType'],
        'uri': f'{task_root}/{key}', 'metadata': {}}]}
        for key, definition in component.get('outputDefinitions', {}).get(
            'artifacts', {}).items()}
    return {'inputs': {'parameterValues': self._parameters(task, run_parameters),
                       'artifacts': artifacts},
            'outputs': {'artifacts': outputs,
                        'outputFile': f'{task_root}/executor_output.json'}}

  # The launcher's part: placeholders, the command, the executor's output.
  @staticmethod
  def _placeholders(executor_input: dict) -> Dict[str, str]:
    inputs, outputs = executor_input['inputs'], executor_input['outputs']
    values = {'{{$}}': json.dumps(executor_input)}
    for key, value in inputs['parameterValues'].items():
      values[f"{{{{$.inputs.parameters['{key}']}}}}"] = (
          value if isinstance(value, str) else json.dumps(value))
    for key, listed in inputs['artifacts'].items():
      if listed['artifacts']:
        values[f"{{{{$.inputs.artifacts['{key}'].uri}}}}"] = listed['artifacts'][0]['uri']
    for key, listed in outputs['artifacts'].items():
      values[f"{{{{$.outputs.artifacts['{key}'].uri}}}}"] = listed['artifacts'][0]['uri']
    return values

  def _run_command(self, name: str, container: dict, executor_input: dict, run_id: str,
                   what: str) -> None:
    placeholders = self._placeholders(executor_input)
    line = []
    for text in [*container.get('command', []), *container.get('args', [])]:
      for placeholder, value in placeholders.items():
        text = text.replace(placeholder, value)
      line.append(text)
    if line and line[0] == 'python':
      line[0] = self.python  # the image's python: this venv's
    log_path = self.local_root / 'logs' / run_id / f'{name}.{what}.log'
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, 'w', encoding='utf-8') as log:
      completed = subprocess.run(line, stdout=log, stderr=subprocess.STDOUT, timeout=1800,
                                 cwd=self.cwd,
                                 env={**os.environ, **LAUNCHER_ENV})
    if completed.returncode != 0:
      tail = log_path.read_text(encoding='utf-8', errors='replace')[-4000:]
      raise ReplayError(f'{name} ({what}) exited {completed.returncode}; log {log_path}:\n'
                        f'{tail}')

  def _container_task(self, name: str, executor: dict, executor_input: dict,
                      run_id: str) -> Dict[str, List[dict]]:
    container = executor['container']
    lifecycle = container.get('lifecycle', {}).get('preCacheCheck')
    for listed in executor_input['outputs']['artifacts'].values():
      # An object store has no folders to create; on the local stand-in they must exist.
      Path(listed['artifacts'][0]['uri']).mkdir(parents=True, exist_ok=True)
    if lifecycle and self.vertex:
      # Vertex runs the driver first and updates the task's artifacts from what it wrote
      # (span, version, input fingerprint); its updated parameters stay in outputFile, which
      # TFX's entry point reads back (kubeflow_v2_run_executor._run_executor).
      self._run_command(name, {**container, **lifecycle}, executor_input, run_id, 'driver')
      for key, artifacts in self._merged_outputs(executor_input).items():
        executor_input['outputs']['artifacts'][key]['artifacts'] = artifacts
    self._run_command(name, container, executor_input, run_id, 'executor')
    return self._merged_outputs(executor_input)

  @staticmethod
  def _merged_outputs(executor_input: dict) -> Dict[str, List[dict]]:
    """The output artifacts with the URI and metadata the process wrote to outputFile
    (launcher_v2.go, mergeRuntimeArtifacts)."""
    output_file = Path(executor_input['outputs']['outputFile'])
    reported = (json.loads(output_file.read_text()).get('artifacts', {})
                if output_file.exists() else {})
    merged = {}
    for key, listed in executor_input['outputs']['artifacts'].items():
      artifact = dict(listed['artifacts'][0])
      written = reported.get(key, {}).get('artifacts', [])
      if written:
        artifact['uri'] = written[0].get('uri') or artifact['uri']
        artifact['metadata'] = {**artifact.get('metadata', {}), **written[0].get('metadata', {})}
      merged[key] = [artifact]
    return merged

  # Vertex AI's part: resolver queries over the records.
  def _query(self, query: str, executor_input: dict) -> List[dict]:
    for key, listed in executor_input['inputs']['artifacts'].items():
      for placeholder in re.findall(rf"\{{\{{\$\.inputs\.artifacts\['{key}'\]\.metadata\['"
                                    r"[^']+'\]\}\}", query):
        field_name = re.search(r"metadata\['([^']+)'\]", placeholder).group(1)
        value = (listed['artifacts'][0].get('metadata', {}).get(field_name, '')
                 if listed['artifacts'] else '')
        query = query.replace(placeholder, str(value))
    clauses = [clause.strip() for clause in query.split(' AND ')]

    def matches(record: dict) -> bool:
      artifact = record['artifact']
      for clause in clauses:
        left, right = clause.split('=', 1)
        right = right.strip('"')
        if left == 'schema_title' and _title(artifact['type']) != right:
          return False
        if left == 'name' and artifact['name'] != right:
          return False
        if left.startswith('metadata.'):
          value = artifact.get('metadata', {}).get(left.split('.')[1])
          if value is None or float(value) != float(right):
            return False
        # state=LIVE: every recorded artifact is live.
      return True
    found = [record['artifact'] for record in reversed(self.records) if matches(record)]
    return found[:1]

  def run(self, run_id: str, parameters: Optional[dict] = None) -> Dict[str, TaskRun]:
    """Runs every task once (no cache); returns what each did, printing time per task."""
    run_parameters = {**self.runtime_config.get('parameterValues', {}), **(parameters or {})}
    tasks = self.spec['root']['dag']['tasks']
    done: Dict[str, TaskRun] = {}
    for name in _order(tasks):
      task = tasks[name]
      component = self.spec['components'][task['componentRef']['name']]
      executor = self.spec['deploymentSpec']['executors'][component['executorLabel']]
      executor_input = json.loads(self.local(json.dumps(self._executor_input(
          name, task, component, run_id, run_parameters, done))))
      start = time.monotonic()
      if 'container' in executor:
        outputs = self._container_task(name, executor, executor_input, run_id)
      elif 'resolver' in executor and self.vertex:
        outputs = {key: self._query(query['filter'], executor_input) for key, query in
                   executor['resolver']['outputArtifactQueries'].items()}
      else:
        raise ReplayError(f'{name}: a {"/".join(executor)} executor, which the open-source '
                          'KFP backend does not run')
      done[name] = TaskRun(name, time.monotonic() - start, outputs, executor_input)
      for key, listed in outputs.items():
        self.records.extend({'run': run_id, 'task': name, 'key': key, 'artifact': artifact}
                            for artifact in listed)
      self.log(f'  replay {run_id} {name:55s} {done[name].seconds:6.1f} s')
    return done
