"""Kubernetes manifests (a kustomize base) for TF Serving on the models the Kubeflow
pipeline pushes: a Deployment of tensorflow/serving reading a models.config, and a Service.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict

import yaml

from components.serving_pusher import model_config
from pipeline.config import ForgeConfig

GRPC_PORT = 8500
REST_PORT = 8501
CONFIG_MOUNT = '/config'


def _deployment(app: str, model_name: str, image: str, replicas: int) -> Dict:
  labels = {'app': app}
  return {
      'apiVersion': 'apps/v1',
      'kind': 'Deployment',
      'metadata': {'name': app, 'labels': labels},
      'spec': {
          'replicas': replicas,
          'selector': {'matchLabels': labels},
          'template': {
              'metadata': {'labels': labels},
              'spec': {
                  'containers': [{
                      'name': 'tensorflow-serving',
                      'image': image,
                      'args': [f'--port={GRPC_PORT}', f'--rest_api_port={REST_PORT}',
                               f'--model_config_file={CONFIG_MOUNT}/models.config',
                               '--model_config_file_poll_wait_seconds=60'],
                      'ports': [{'name': 'grpc', 'containerPort': GRPC_PORT},
                                {'name': 'http', 'containerPort': REST_PORT}],
                      'readinessProbe': {
                          'httpGet': {'path': f'/v1/models/{model_name}', 'port': REST_PORT},
                          'initialDelaySeconds': 10, 'periodSeconds': 10},
                      'resources': {'requests': {'cpu': '500m', 'memory': '1Gi'}},
                      'volumeMounts': [{'name': 'models-config', 'mountPath': CONFIG_MOUNT}],
                  }],
                  'volumes': [{'name': 'models-config',
                               'configMap': {'name': f'{app}-models-config'}}],
              },
          },
      },
  }


def _service(app: str) -> Dict:
  return {
      'apiVersion': 'v1',
      'kind': 'Service',
      'metadata': {'name': app, 'labels': {'app': app}},
      'spec': {
          'selector': {'app': app},
          'ports': [{'name': 'grpc', 'port': GRPC_PORT, 'targetPort': GRPC_PORT},
                    {'name': 'http', 'port': REST_PORT, 'targetPort': REST_PORT}],
      },
  }


def write_manifests(config: ForgeConfig, output_dir: Path) -> Path:
  """Writes the kustomize base for this pipeline's model into output_dir."""
  kubeflow = config.kubeflow
  app = f'{config.model_name}-serving'.replace('_', '-').lower()
  base_path = f'{kubeflow.serving_dir}/{config.model_name}'  # where the Pusher writes
  output_dir.mkdir(parents=True, exist_ok=True)
  (output_dir / 'models.config').write_text(model_config.one_model(config.model_name, base_path))
  documents = {
      'deployment.yaml': _deployment(app, config.model_name, kubeflow.serving_image,
                                     kubeflow.serving_replicas),
      'service.yaml': _service(app),
      'kustomization.yaml': {
          'apiVersion': 'kustomize.config.k8s.io/v1beta1',
          'kind': 'Kustomization',
          'resources': ['deployment.yaml', 'service.yaml'],
          'configMapGenerator': [{'name': f'{app}-models-config', 'files': ['models.config']}],
      },
  }
  for name, document in documents.items():
    (output_dir / name).write_text(yaml.safe_dump(document, sort_keys=False))
  return output_dir
