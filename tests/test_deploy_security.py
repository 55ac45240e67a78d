"""What we deploy, locked down: the TF Serving manifests of every built-in config with a
kubeflow section, and kubeflow/Dockerfile, pass Kubernetes' restricted Pod Security Standard,
checkov and hadolint (pinned in requirements-scan.lock, installed in .venv-scan by make test).
No pipeline runs; the scanners run offline."""
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from kubeflow.serving import GRPC_PORT, NAMESPACE_LABEL, REST_PORT, TMP_MOUNT, write_manifests
from pipeline.config import ConfigError, load_config
from tests.conftest import PROJECT_DIR, write_config
from tests.pod_security import restricted_violations

SCAN_BIN = PROJECT_DIR / '.venv-scan' / 'bin'
CHECKOV_CONFIG = PROJECT_DIR / 'kubeflow' / 'checkov.yaml'
HADOLINT_CONFIG = PROJECT_DIR / 'kubeflow' / 'hadolint.yaml'
DOCKERFILE = PROJECT_DIR / 'kubeflow' / 'Dockerfile'
KUBEFLOW_CONFIGS = sorted(
    path.stem for path in (PROJECT_DIR / 'configs').glob('*.yaml')
    if 'kubeflow' in (yaml.safe_load(path.read_text()) or {}))


def _offline_env() -> dict:
  """No download of any kind (the vendor platform's data, the PyPI version check), no API key."""
  env = {key: value for key, value in os.environ.items() if not key.startswith(('BC_', 'PRISMA'))}
  return {**env, 'CKV_SKIP_PACKAGE_UPDATE_CHECK': 'true', 'BC_SKIP_MAPPING': 'TRUE'}


def _scanner(name: str) -> str:
  path = SCAN_BIN / name
  assert path.exists(), f'{path} is missing: `make scanners` (or make test) installs it'
  return str(path)


def checkov(*files: Path) -> dict:
  """checkov's findings on these files (one run, so one graph across them):
  {file: {'passed': {check id, ...}, 'failed': {check id: check name, ...}}}."""
  completed = subprocess.run(
      [_scanner('checkov'), '--config-file', str(CHECKOV_CONFIG), '--output', 'json',
       '--file', *map(str, files)],
      env=_offline_env(), capture_output=True, text=True, timeout=300, cwd=PROJECT_DIR)
  assert completed.returncode in (0, 1), completed.stderr[-3000:]  # 1: failed checks
  reports = json.loads(completed.stdout)
  findings = {Path(file): {'passed': set(), 'failed': {}} for file in files}
  for report in reports if isinstance(reports, list) else [reports]:
    for check in report['results']['passed_checks']:
      findings[Path(check['file_abs_path'])]['passed'].add(check['check_id'])
    for check in report['results']['failed_checks']:
      findings[Path(check['file_abs_path'])]['failed'][check['check_id']] = check['check_name']
  return findings


def _documents(directory: Path) -> dict:
  return {path.name: yaml.safe_load(path.read_text()) for path in directory.glob('*.yaml')}


def _resources(directory: Path) -> list:
  return sorted(path for path in directory.glob('*.yaml') if path.name != 'kustomization.yaml')


def _penguin_named(tmp_path: Path, name: str, **kubeflow) -> Path:
  """The serving manifests of configs/penguin.yaml under another pipeline name."""
  path = write_config(tmp_path / f'{name}.yaml', 'penguin',
                      pipeline={'name': name, 'root': str(tmp_path / name)}, kubeflow=kubeflow)
  return write_manifests(load_config(path), tmp_path / name / 'serving')


def _drop_run_as_non_root(directory: Path) -> dict:
  path = directory / 'deployment.yaml'
  deployment = yaml.safe_load(path.read_text())
  pod = deployment['spec']['template']['spec']
  for context in [pod['securityContext']] + [c['securityContext'] for c in pod['containers']]:
    for key in ('runAsNonRoot', 'runAsUser', 'runAsGroup'):
      context.pop(key, None)
  path.write_text(yaml.safe_dump(deployment))
  return pod


@pytest.fixture(scope='module')
def manifests(tmp_path_factory):
  """{config name: (config, directory of its serving manifests)}, as forge compile writes."""
  out = tmp_path_factory.mktemp('serving')
  return {name: (config, write_manifests(config, out / name))
          for name in KUBEFLOW_CONFIGS
          for config in [load_config(PROJECT_DIR / 'configs' / f'{name}.yaml')]}


@pytest.fixture(scope='module')
def mutants(tmp_path_factory):
  """Manifests and a Dockerfile each missing one safeguard (own names: no shared policy)."""
  work = tmp_path_factory.mktemp('mutants')
  rooted = _penguin_named(work, 'rooted')
  pod = _drop_run_as_non_root(rooted)
  unguarded = _penguin_named(work, 'unguarded')
  (unguarded / 'networkpolicy.yaml').unlink(missing_ok=True)
  dockerfile = work / 'Dockerfile'
  dockerfile.write_text('\n'.join(line for line in DOCKERFILE.read_text().splitlines()
                                  if not line.startswith('USER ')))
  keyed = work / 'keyed' / 'Dockerfile'  # AWS's documented example key, split in two here
  keyed.parent.mkdir()
  keyed.write_text(DOCKERFILE.read_text().replace(
      'FROM ${BASE_IMAGE}\n', 'FROM ${BASE_IMAGE}\nENV AWS_ACCESS_KEY_ID=AKIA' + 'IOSFODNN7EXAMPLE '
      'AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/' + 'bPxRfiCYEXAMPLEKEY\n'))
  return {'rooted': rooted, 'rooted_pod': pod, 'unguarded': unguarded,
          'userless_dockerfile': dockerfile, 'keyed_dockerfile': keyed}


@pytest.fixture(scope='module')
def scanned(manifests, mutants):
  """One checkov run (its start-up is most of its time) over everything these tests scan."""
  files = [DOCKERFILE, mutants['userless_dockerfile'], mutants['keyed_dockerfile']]
  for directory in [d for _, d in manifests.values()] + [mutants['rooted'], mutants['unguarded']]:
    files += _resources(directory)
  return checkov(*files)


def test_every_kubeflow_config_is_covered():
  assert {'penguin', 'taxi', 'digits'} <= set(KUBEFLOW_CONFIGS)


def test_manifests_pass_the_restricted_pod_security_standard(manifests):
  for name, (config, directory) in manifests.items():
    pod = _documents(directory)['deployment.yaml']['spec']['template']['spec']
    assert restricted_violations(pod) == [], name
    uid = config.kubeflow.serving.uid
    assert pod['securityContext']['runAsUser'] == uid > 0
    (container,) = pod['containers']
    context = container['securityContext']
    assert context['runAsNonRoot'] is True and context['runAsUser'] == uid
    assert context['allowPrivilegeEscalation'] is False
    assert context['capabilities'] == {'drop': ['ALL']}
    assert context['seccompProfile'] == {'type': 'RuntimeDefault'}
    assert context['readOnlyRootFilesystem'] is True
    mounts = {mount['name']: mount for mount in container['volumeMounts']}
    volumes = {volume['name']: volume for volume in pod['volumes']}
    assert mounts['models-config']['readOnly'] is True
    assert mounts['tmp']['mountPath'] == TMP_MOUNT and 'emptyDir' in volumes['tmp']
    assert pod['automountServiceAccountToken'] is False


def test_resources_probes_and_service_follow_the_config(manifests):
  for name, (config, directory) in manifests.items():
    documents = _documents(directory)
    serving = config.kubeflow.serving
    (container,) = documents['deployment.yaml']['spec']['template']['spec']['containers']
    assert container['resources'] == {
        'requests': {'cpu': f'{round(serving.cpu * 1000)}m',
                     'memory': f'{round(serving.memory_gb * 1024)}Mi'},
        'limits': {'cpu': f'{round(serving.cpu_limit * 1000)}m',
                   'memory': f'{round(serving.memory_limit_gb * 1024)}Mi'}}, name
    for probe in ('startupProbe', 'readinessProbe', 'livenessProbe'):
      assert container[probe]['httpGet'] == {'path': f'/v1/models/{config.model_name}',
                                             'port': REST_PORT}
    assert documents['service.yaml']['spec']['type'] == 'ClusterIP'
    for document in documents.values():
      assert document.get('metadata', document).get('namespace') == serving.namespace


def test_network_policy_admits_only_the_configured_clients(tmp_path):
  clients = [{'namespace': 'apps'}, {'namespace': 'web', 'pod_labels': {'app': 'frontend'}},
             {'pod_labels': {'role': 'gateway'}}]
  path = write_config(tmp_path / 'penguin.yaml', 'penguin')
  raw = yaml.safe_load(path.read_text())
  raw['kubeflow']['serving'] = {'namespace': 'models', 'clients': clients}
  path.write_text(yaml.safe_dump(raw))
  directory = write_manifests(load_config(path), tmp_path / 'serving')
  policy = _documents(directory)['networkpolicy.yaml']
  pods = _documents(directory)['deployment.yaml']['spec']['template']['metadata']['labels']
  assert policy['metadata']['namespace'] == 'models'
  assert policy['spec']['podSelector'] == {'matchLabels': pods}
  assert policy['spec']['policyTypes'] == ['Ingress']
  rule, prometheus = policy['spec']['ingress']
  assert prometheus == {  # monitoring.prometheus_namespace, on the metrics' port only
      'from': [{'namespaceSelector': {'matchLabels': {NAMESPACE_LABEL: 'monitoring'}}}],
      'ports': [{'protocol': 'TCP', 'port': REST_PORT}]}
  assert rule['from'] == [
      {'namespaceSelector': {'matchLabels': {NAMESPACE_LABEL: 'apps'}}},
      {'namespaceSelector': {'matchLabels': {NAMESPACE_LABEL: 'web'}},
       'podSelector': {'matchLabels': {'app': 'frontend'}}},
      {'podSelector': {'matchLabels': {'role': 'gateway'}}}]
  assert rule['ports'] == [{'protocol': 'TCP', 'port': GRPC_PORT},
                           {'protocol': 'TCP', 'port': REST_PORT}]


@pytest.mark.parametrize('serving, key', [
    ({'clients': []}, 'kubeflow.serving.clients'),
    ({'clients': [{}]}, 'kubeflow.serving.clients'),
    ({'cpu': 4, 'cpu_limit': 2}, 'kubeflow.serving.cpu_limit'),
    ({'memory_gb': 4, 'memory_limit_gb': 2}, 'kubeflow.serving.memory_limit_gb'),
    ({'namespace': 'Models_1'}, 'kubeflow.serving.namespace'),
    ({'uid': 0}, 'kubeflow.serving.uid'),
])
def test_serving_settings_errors_name_the_key(tmp_path, serving, key):
  path = write_config(tmp_path / 'penguin.yaml', 'penguin')
  raw = yaml.safe_load(path.read_text())
  raw['kubeflow']['serving'] = serving
  path.write_text(yaml.safe_dump(raw))
  with pytest.raises(ConfigError, match=re.escape(key)):
    load_config(path)


def test_checkov_passes_the_manifests_of_every_config_and_the_dockerfile(manifests, scanned):
  for name, (_, directory) in manifests.items():
    for path in _resources(directory):
      assert scanned[path]['failed'] == {}, (name, path.name)
    # Root containers, privilege escalation, capabilities, read-only root, high UID, limits
    # and the pod's NetworkPolicy (a graph check across files): checked on every config.
    passed = scanned[directory / 'deployment.yaml']['passed']
    assert {'CKV_K8S_23', 'CKV_K8S_20', 'CKV_K8S_37', 'CKV_K8S_22', 'CKV_K8S_40',
            'CKV_K8S_11', 'CKV_K8S_13', 'CKV2_K8S_6'} <= passed, name
  assert scanned[DOCKERFILE]['failed'] == {}
  assert 'CKV_DOCKER_3' in scanned[DOCKERFILE]['passed']  # a user is created and used
  # (its secrets scan found nothing: the failed findings above cover every framework)


def test_removing_run_as_non_root_fails_the_rules_and_checkov(mutants, scanned):
  assert restricted_violations(mutants['rooted_pod']) == [
      'tensorflow-serving: runAsNonRoot must be true (pod or container)']
  assert 'CKV_K8S_23' in scanned[mutants['rooted'] / 'deployment.yaml']['failed']


def test_removing_the_network_policy_fails_checkov(mutants, scanned):
  failed = scanned[mutants['unguarded'] / 'deployment.yaml']['failed']
  assert list(failed) == ['CKV2_K8S_6'], failed


def test_removing_the_dockerfile_user_fails_checkov(mutants, scanned):
  assert 'CKV_DOCKER_3' in scanned[mutants['userless_dockerfile']]['failed']


def test_a_credential_baked_into_the_dockerfile_fails_checkov(mutants, scanned):
  assert 'CKV_SECRET_2' in scanned[mutants['keyed_dockerfile']]['failed']  # AWS access key


def test_a_digest_pinned_serving_image_passes_the_digest_check(tmp_path):
  """CKV_K8S_43 is skipped for the default tag; a config that pins a digest passes it."""
  directory = _penguin_named(tmp_path, 'pinned',
                             serving_image='tensorflow/serving:2.16.1@sha256:' + 'a' * 64)
  completed = subprocess.run(
      [_scanner('checkov'), '--framework', 'kubernetes', '--check', 'CKV_K8S_43',
       '--skip-download', '--output', 'json', '--file', str(directory / 'deployment.yaml')],
      env=_offline_env(), capture_output=True, text=True, timeout=300)
  assert completed.returncode == 0, completed.stdout[-3000:]
  assert json.loads(completed.stdout)['summary']['passed'] == 1


def _hadolint(dockerfile: Path) -> subprocess.CompletedProcess:
  return subprocess.run([_scanner('hadolint'), '--config', str(HADOLINT_CONFIG), str(dockerfile)],
                        capture_output=True, text=True, timeout=120)


def test_hadolint_passes_the_dockerfile_and_catches_a_regression(tmp_path):
  completed = _hadolint(DOCKERFILE)
  assert completed.returncode == 0, completed.stdout + completed.stderr
  unpinned = tmp_path / 'Dockerfile'
  unpinned.write_text(DOCKERFILE.read_text().replace('pip install uv==0.13.9',
                                                     'pip install uv'))
  assert 'DL3013' in _hadolint(unpinned).stdout  # pin versions in pip install


def test_dockerfile_runs_as_non_root_from_one_pinned_base_image():
  lines = [line.strip() for line in DOCKERFILE.read_text().splitlines()]
  instructions = [line for line in lines if line and not line.startswith('#')]
  assert [line for line in instructions if line.startswith('FROM ')] == ['FROM ${BASE_IMAGE}']
  (base,) = [line.split('=', 1)[1] for line in instructions
             if line.startswith('ARG BASE_IMAGE=')]
  assert re.match(r'^[\w./-]+(:[\w.-]+)?(@sha256:[0-9a-f]{64})?$', base) and (
      '@sha256:' in base or (':' in base and not base.endswith(':latest'))), base
  (uid,) = [line.split('=', 1)[1] for line in instructions if line.startswith('ARG PIPELINE_UID=')]
  assert int(uid) >= 10000
  users = [line for line in instructions if line.startswith('USER ')]
  assert users[-1] == 'USER ${PIPELINE_UID}:${PIPELINE_UID}'
  secret = re.compile(r'PASSWORD|SECRET|TOKEN|CREDENTIAL|API_KEY|ACCESS_KEY|PRIVATE_KEY', re.I)
  assert not [line for line in instructions
              if line.startswith(('ENV ', 'ARG ')) and secret.search(line)]
