"""What the open-source Kubeflow Pipelines backend refuses in a pipeline spec, checked here
before anything is sent.

Each rule cites the file of kubeflow/pipelines (backend/src, read at commit 7b70c7b95f, the
tags 2.0.0 to 2.17.0 agree on these) that refuses it. `problems(job)` takes the PipelineJob
that TFX's KubeflowV2DagRunner writes (its `pipelineSpec` is what the API server gets) and
returns one line per refusal: where in the spec, what the backend says, and the fix.
Vertex AI Pipelines accepts more (resolver executors, schema 2.0.0); these rules are for
`--target kubeflow`.
"""
from __future__ import annotations

import re
from typing import Dict, Iterator, List

SCHEMA_VERSION = '2.1.0'
# apiserver/template/v2_template.go checks this regex, and compiler/argocompiler/argo.go
# names the Argo Workflow after the name's last '/' segment (GenerateName), which Kubernetes
# accepts only as a DNS-1123 subdomain: the anchored form, 253 characters less the suffix.
PIPELINE_NAME = re.compile(r'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')
# component/launcher_v2.go, compileCmdAndArgs and getPlaceholders: the only placeholders the
# launcher substitutes in a container's command and arguments; any other stays literal.
PLACEHOLDER = re.compile(r'\{\{\$[^}]*\}\}')
LAUNCHER_PLACEHOLDERS = re.compile(
    r"\{\{\$(|\.inputs\.artifacts\['[^']+'\]\.(uri|path)|\.outputs\.artifacts\['[^']+'\]\."
    r"(uri|path)|\.inputs\.parameters\['[^']+'\]|\.outputs\.parameters\['[^']+'\]\."
    r"output_file)\}\}")
PARAMETER_TYPES = {'STRING', 'NUMBER_INTEGER', 'NUMBER_DOUBLE', 'BOOLEAN', 'LIST', 'STRUCT',
                   'TASK_FINAL_STATUS', 'TASK_CONFIG'}
# The JSON kinds driver/resolve.go accepts for each parameterType (a string takes any).
VALUE_KINDS = {'NUMBER_INTEGER': (int, float), 'NUMBER_DOUBLE': (int, float),
               'BOOLEAN': (bool,), 'LIST': (list,), 'STRUCT': (dict,)}


def _schema_version(spec: dict) -> Iterator[str]:
  # apiserver/template/v2_template.go: "KFP only supports schema version 2.1.0".
  if spec.get('schemaVersion') != SCHEMA_VERSION:
    yield (f'schemaVersion {spec.get("schemaVersion")!r}: the API server accepts only '
           f'{SCHEMA_VERSION} (KubeflowV2DagRunnerConfig(use_pipeline_spec_2_1=True))')


def _pipeline_name(spec: dict) -> Iterator[str]:
  # apiserver/template/v2_template.go ("name is empty", the name regex);
  # compiler/argocompiler/argo.go (Workflow GenerateName); driver/driver.go ("pipeline name
  # is required").
  name = spec.get('pipelineInfo', {}).get('name', '')
  last = name.rsplit('/', 1)[-1]
  if not name or not PIPELINE_NAME.fullmatch(last) or len(last) > 247:
    yield (f'pipelineInfo.name {name!r}: must be lowercase letters, digits, "-" or ".", '
           'starting and ending with a letter or digit (it names the Argo Workflow)')


def _executors(spec: dict) -> Iterator[str]:
  # compiler/visitor.go: "non-container and non-importer executor not implemented";
  # compiler/argocompiler/dag.go: "resolver executors not implemented", "custom job
  # executors is Google Cloud only".
  for label, executor in spec.get('deploymentSpec', {}).get('executors', {}).items():
    kinds = set(executor) & {'container', 'importer', 'resolver', 'customJob'}
    if kinds - {'container', 'importer'} or not kinds:
      yield (f'deploymentSpec.executors.{label}: a {"/".join(sorted(kinds)) or "missing"} '
             'executor; open-source KFP runs only container and importer executors '
             '(compile with --target vertex for Vertex AI Pipelines)')
      continue
    container = executor.get('container')
    if container is None:
      continue
    if not container.get('image'):
      yield f'deploymentSpec.executors.{label}.container.image: empty; set kubeflow.image'
    for text in [*container.get('command', []), *container.get('args', [])]:
      for placeholder in PLACEHOLDER.findall(text):
        if not LAUNCHER_PLACEHOLDERS.fullmatch(placeholder):
          yield (f'deploymentSpec.executors.{label}.container: placeholder {placeholder} is '
                 'not one the KFP launcher substitutes (component/launcher_v2.go)')


def _dags(spec: dict) -> Iterator[Dict[str, dict]]:
  yield spec.get('root', {}).get('dag', {}).get('tasks', {})
  for component in spec.get('components', {}).values():
    if 'dag' in component:
      yield component['dag'].get('tasks', {})


def _task_inputs(spec: dict) -> Iterator[str]:
  for tasks in _dags(spec):
    for name, task in tasks.items():
      # compiler/argocompiler/dag.go: "artifact iterator not implemented yet".
      if 'artifactIterator' in task:
        yield f'tasks.{name}.artifactIterator: not implemented by the backend'
      inputs = task.get('inputs', {})
      for key, parameter in inputs.get('parameters', {}).items():
        runtime_value = parameter.get('runtimeValue')
        # driver/resolve.go, resolveInputParameter: a runtimeValue must be `constant`; the
        # 2.0 form `constantValue` ends in "param runtime value spec of type ... not
        # implemented".
        if runtime_value is not None and set(runtime_value) != {'constant'}:
          yield (f'tasks.{name}.inputs.parameters.{key}.runtimeValue: '
                 f'{"/".join(runtime_value)} instead of constant (schema 2.1 form)')
      # driver/resolve.go: an upstream output is looked up among the DAG's tasks.
      for key, artifact in inputs.get('artifacts', {}).items():
        producer = artifact.get('taskOutputArtifact', {}).get('producerTask')
        if producer is not None and producer not in tasks:
          yield f'tasks.{name}.inputs.artifacts.{key}: producer task {producer!r} is missing'
      for upstream in task.get('dependentTasks', []):
        if upstream not in tasks:
          yield f'tasks.{name}.dependentTasks: {upstream!r} is not a task of the DAG'


def _parameter_types(spec: dict, runtime_config: dict) -> Iterator[str]:
  # driver/resolve.go (input parameter type check): every parameter has a parameterType
  # (schema 2.1); the 2.0 form `type` is unspecified to the driver and fails the check.
  definitions = {'root': spec.get('root', {}),
                 **{f'components.{k}': v for k, v in spec.get('components', {}).items()}}
  for where, component in definitions.items():
    for side in ('inputDefinitions', 'outputDefinitions'):
      for key, parameter in component.get(side, {}).get('parameters', {}).items():
        if parameter.get('parameterType') not in PARAMETER_TYPES:
          yield (f'{where}.{side}.parameters.{key}: parameterType '
                 f'{parameter.get("parameterType")!r} (schema 2.1 form: one of '
                 f'{", ".join(sorted(PARAMETER_TYPES))})')
  # A run's parameter values must match the root's parameterType (same check).
  root = spec.get('root', {}).get('inputDefinitions', {}).get('parameters', {})
  for key, value in runtime_config.get('parameterValues', {}).items():
    kinds = VALUE_KINDS.get(root.get(key, {}).get('parameterType'))
    if key not in root:
      yield f'runtimeConfig.parameterValues.{key}: not a parameter of the pipeline'
    elif kinds and not isinstance(value, kinds):
      yield f'runtimeConfig.parameterValues.{key}: {value!r} does not match its parameterType'


def problems(job: dict) -> List[str]:
  """What the open-source KFP backend would refuse in a PipelineJob's spec (empty: none)."""
  spec = job.get('pipelineSpec', job)
  return [*_schema_version(spec), *_pipeline_name(spec), *_executors(spec),
          *_task_inputs(spec), *_parameter_types(spec, job.get('runtimeConfig', {}))]
