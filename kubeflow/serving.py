"""Kubernetes manifests (a kustomize base) for TF Serving on the models the Kubeflow
pipeline pushes: a Deployment of tensorflow/serving reading a models.config (with the
monitoring and batching files, kubeflow/monitoring.py), a ClusterIP Service and a
NetworkPolicy, built to pass Kubernetes' restricted Pod Security Standard.

TF Serving runs as a fixed non-root UID (config: kubeflow.serving.uid), which the
tensorflow/serving image allows: its server binary is world-executable, it reads models from
the bucket and its config from a read-only ConfigMap, and the only place it may write is an
emptyDir on /tmp (TMPDIR for TensorFlow's file systems). The model-status endpoint answers
only once the server started, and the server starts listening only after the latest version
of each configured model loaded (ServerCore waits for it), so a ready pod serves its model.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List

import yaml

from components.serving_pusher import model_config
from kubeflow import monitoring
from pipeline.config import ForgeConfig, ServingClient, ServingPod

GRPC_PORT = 8500
REST_PORT = 8501
CONFIG_MOUNT = '/config'
TMP_MOUNT = '/tmp'
SERVER = '/usr/bin/tensorflow_model_server'  # in the tensorflow/serving image
NAMESPACE_LABEL = 'kubernetes.io/metadata.name'  # set on every namespace by Kubernetes 1.21+


def _quantities(cpu: float, memory_gb: float) -> Dict[str, str]:
  return {'cpu': f'{round(cpu * 1000)}m', 'memory': f'{round(memory_gb * 1024)}Mi'}


def _status_probe(model_name: str, period: int, failures: int) -> Dict:
  """GET /v1/models/<name>: TF Serving's model-status endpoint (REST API)."""
  return {'httpGet': {'path': f'/v1/models/{model_name}', 'port': REST_PORT},
          'periodSeconds': period, 'failureThreshold': failures, 'timeoutSeconds': 5}


def _restricted(uid: int) -> Dict:
  """The restricted Pod Security Standard's settings, as a container securityContext."""
  return {'runAsNonRoot': True, 'runAsUser': uid, 'runAsGroup': uid,
          'allowPrivilegeEscalation': False, 'privileged': False,
          'readOnlyRootFilesystem': True, 'capabilities': {'drop': ['ALL']},
          'seccompProfile': {'type': 'RuntimeDefault'}}


def _container(config: ForgeConfig, image: str, pod: ServingPod) -> Dict:
  model_name = config.model_name
  return {
      'name': 'tensorflow-serving',
      'image': image,
      'imagePullPolicy': 'Always',
      'command': [SERVER],
      'args': [f'--port={GRPC_PORT}', f'--rest_api_port={REST_PORT}',
               f'--model_config_file={CONFIG_MOUNT}/models.config',
               '--model_config_file_poll_wait_seconds=60',
               *monitoring.server_flags(config, CONFIG_MOUNT)],
      'env': [{'name': 'TMPDIR', 'value': TMP_MOUNT}],
      'ports': [{'name': 'grpc', 'containerPort': GRPC_PORT},
                {'name': 'http', 'containerPort': REST_PORT}],
      # Loading from a bucket can take minutes: up to 10 before liveness counts.
      'startupProbe': _status_probe(model_name, period=10, failures=60),
      'readinessProbe': _status_probe(model_name, period=10, failures=3),
      'livenessProbe': _status_probe(model_name, period=20, failures=3),
      'resources': {'requests': _quantities(pod.cpu, pod.memory_gb),
                    'limits': _quantities(pod.cpu_limit, pod.memory_limit_gb)},
      'securityContext': _restricted(pod.uid),
      'volumeMounts': [{'name': 'models-config', 'mountPath': CONFIG_MOUNT, 'readOnly': True},
                       {'name': 'tmp', 'mountPath': TMP_MOUNT}],
  }


def _deployment(app: str, config: ForgeConfig, image: str, replicas: int,
                pod: ServingPod) -> Dict:
  labels = {'app': app}
  return {
      'apiVersion': 'apps/v1',
      'kind': 'Deployment',
      'metadata': {'name': app, 'namespace': pod.namespace, 'labels': labels},
      'spec': {
          'replicas': replicas,
          'selector': {'matchLabels': labels},
          'template': {
              # Prometheus finds the pods by these (monitoring.prometheus_config).
              'metadata': {'labels': labels,
                           'annotations': monitoring.scrape_annotations(config, REST_PORT)},
              'spec': {
                  # TF Serving calls no Kubernetes API; bucket access comes from workload
                  # identity (GKE) or IRSA (EKS), which need no mounted API token.
                  'automountServiceAccountToken': False,
                  'securityContext': {'runAsNonRoot': True, 'runAsUser': pod.uid,
                                      'runAsGroup': pod.uid,
                                      'seccompProfile': {'type': 'RuntimeDefault'}},
                  'containers': [_container(config, image, pod)],
                  'volumes': [{'name': 'models-config',
                               'configMap': {'name': f'{app}-models-config',
                                             'defaultMode': 0o444}},
                              {'name': 'tmp', 'emptyDir': {'sizeLimit': '1Gi'}}],
              },
          },
      },
  }


def _service(app: str, namespace: str) -> Dict:
  return {
      'apiVersion': 'v1',
      'kind': 'Service',
      'metadata': {'name': app, 'namespace': namespace, 'labels': {'app': app}},
      'spec': {
          'type': 'ClusterIP',
          'selector': {'app': app},
          'ports': [{'name': 'grpc', 'port': GRPC_PORT, 'targetPort': GRPC_PORT},
                    {'name': 'http', 'port': REST_PORT, 'targetPort': REST_PORT}],
      },
  }


def _peer(client: ServingClient) -> Dict:
  """A NetworkPolicy peer; a namespace and pod labels in one peer means both must match."""
  peer = {}
  if client.namespace:
    peer['namespaceSelector'] = {'matchLabels': {NAMESPACE_LABEL: client.namespace}}
  if client.pod_labels:
    peer['podSelector'] = {'matchLabels': dict(client.pod_labels)}
  return peer


def _network_policy(app: str, clients: List[ServingClient], namespace: str,
                    prometheus_namespace: str) -> Dict:
  """Admits only the configured clients, and only on the gRPC and REST ports; and the
  Prometheus namespace on the REST port, where the metrics are."""
  prometheus = {'namespaceSelector': {'matchLabels': {NAMESPACE_LABEL: prometheus_namespace}}}
  return {
      'apiVersion': 'networking.k8s.io/v1',
      'kind': 'NetworkPolicy',
      'metadata': {'name': app, 'namespace': namespace, 'labels': {'app': app}},
      'spec': {
          'podSelector': {'matchLabels': {'app': app}},
          'policyTypes': ['Ingress'],
          'ingress': [{'from': [_peer(client) for client in clients],
                       'ports': [{'protocol': 'TCP', 'port': GRPC_PORT},
                                 {'protocol': 'TCP', 'port': REST_PORT}]},
                      {'from': [prometheus], 'ports': [{'protocol': 'TCP', 'port': REST_PORT}]}],
      },
  }


def write_manifests(config: ForgeConfig, output_dir: Path) -> Path:
  """Writes the kustomize base for this pipeline's model into output_dir, with the server's
  monitoring and batching files in its ConfigMap, and beside it (not kustomize resources:
  they are for the cluster's Prometheus and Grafana) the scrape config, alerting rules and
  dashboard."""
  kubeflow = config.kubeflow
  pod = kubeflow.serving
  app = monitoring.job_name(config)
  output_dir.mkdir(parents=True, exist_ok=True)
  models_config = output_dir / model_config.FILE_NAME
  previous = models_config.read_text() if models_config.is_file() else None  # a rollout's labels
  base_path = f'{kubeflow.serving_dir}/{config.model_name}'  # where the Pusher writes
  models_config.write_text(model_config.one_model(config.model_name, base_path, previous))
  server_files = monitoring.write_server_files(config, output_dir)
  monitoring.write_monitoring(config, output_dir, namespace=pod.namespace)
  resources = {
      'deployment.yaml': _deployment(app, config, kubeflow.serving_image,
                                     kubeflow.serving_replicas, pod),
      'service.yaml': _service(app, pod.namespace),
      'networkpolicy.yaml': _network_policy(app, pod.clients, pod.namespace,
                                            config.monitoring.prometheus_namespace),
  }
  kustomization = {
      'apiVersion': 'kustomize.config.k8s.io/v1beta1',
      'kind': 'Kustomization',
      'namespace': pod.namespace,
      'resources': list(resources),
      # A new hash suffix on every change: kubectl apply -k rolls the pods onto it.
      'configMapGenerator': [{'name': f'{app}-models-config',
                              'files': [model_config.FILE_NAME, *server_files]}],
  }
  for name, document in {**resources, 'kustomization.yaml': kustomization}.items():
    (output_dir / name).write_text(yaml.safe_dump(document, sort_keys=False))
  return output_dir
