"""Operating TF Serving: its --monitoring_config_file and --batching_parameters_file, a
Prometheus scrape config, alerting rules and a Grafana dashboard, all from the metric names
TF Serving exports on its Prometheus endpoint.

TF Serving's exporter (tensorflow_serving/util/prometheus_exporter.cc) serves every metric of
TensorFlow's default monitoring registry, its name with each "/" made ":" (so
"/tensorflow/serving/request_count" is ":tensorflow:serving:request_count"); a histogram
("Sampler") gets the _bucket, _sum and _count series. Each metric used here is listed in
METRICS with the file that defines it.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Dict, List, Optional

import yaml
from google.protobuf import text_format

from kubeflow.serving_protos import BatchingParameters, MonitoringConfig
from pipeline.config import ForgeConfig

MONITORING_FILE = 'monitoring.config'
BATCHING_FILE = 'batching.config'
PROMETHEUS_FILE = 'prometheus.yml'
RULES_FILE = 'alerts.yml'
DASHBOARD_FILE = 'grafana-dashboard.json'


@dataclasses.dataclass(frozen=True)
class Metric:
  name: str  # as TF Serving's exporter spells it
  kind: str  # counter or histogram
  labels: tuple
  source: str  # the file of tensorflow/serving (or tensorflow) that defines it
  unit: str = ''

  @property
  def series(self) -> tuple:
    """Series names Prometheus stores for it."""
    if self.kind == 'histogram':
      return tuple(f'{self.name}_{suffix}' for suffix in ('bucket', 'sum', 'count'))
    return (self.name,)


def _exported(name: str) -> str:
  """GetPrometheusMetricName in tensorflow_serving/util/prometheus_exporter.cc."""
  return name.replace('/', ':')


REQUEST_COUNT = Metric(_exported('/tensorflow/serving/request_count'), 'counter',
                       ('model_name', 'status'),
                       'tensorflow_serving/servables/tensorflow/util.cc')
REQUEST_LATENCY = Metric(_exported('/tensorflow/serving/request_latency'), 'histogram',
                         ('model_name', 'API', 'entrypoint'),
                         'tensorflow_serving/servables/tensorflow/util.cc', 'microseconds')
RUNTIME_LATENCY = Metric(_exported('/tensorflow/serving/runtime_latency'), 'histogram',
                         ('model_name', 'API', 'runtime'),
                         'tensorflow_serving/servables/tensorflow/util.cc', 'microseconds')
EXAMPLE_COUNTS = Metric(_exported('/tensorflow/serving/request_example_counts'), 'histogram',
                        ('model',), 'tensorflow_serving/servables/tensorflow/util.cc')
QUEUING_LATENCY = Metric(_exported('/tensorflow/serving/batching_session/queuing_latency'),
                         'histogram', ('thread_pool_name',),
                         'tensorflow_serving/batching/batching_session.cc', 'microseconds')
LOAD_ATTEMPTS = Metric(_exported('/tensorflow/cc/saved_model/load_attempt_count'), 'counter',
                       ('model_path', 'status'),  # status: success or fail
                       'tensorflow/cc/saved_model/loader.cc (TensorFlow, exported by TF Serving)')
WARMUP_LATENCY = Metric(_exported('/tensorflow/serving/model_warmup_latency'), 'histogram',
                        ('model_path', 'status'),
                        'tensorflow_serving/servables/tensorflow/saved_model_warmup_util.cc',
                        'microseconds')
METRICS = (REQUEST_COUNT, REQUEST_LATENCY, RUNTIME_LATENCY, EXAMPLE_COUNTS, QUEUING_LATENCY,
           LOAD_ATTEMPTS, WARMUP_LATENCY)
# error::Code_Name of a request's status (RecordModelRequestCount, util.cc).
OK_STATUS = 'OK'
NOT_FOUND_STATUS = 'NOT_FOUND'


def job_name(config: ForgeConfig) -> str:
  """The Prometheus job, and the Kubernetes app label of the serving pods."""
  return f'{config.model_name}-serving'.replace('_', '-').lower()


def monitoring_config(config: ForgeConfig) -> str:
  message = MonitoringConfig()
  message.prometheus_config.enable = True
  message.prometheus_config.path = config.monitoring.metrics_path
  return text_format.MessageToString(message)


def batching_parameters(config: ForgeConfig) -> str:
  batching = config.batching
  message = BatchingParameters()
  message.max_batch_size.value = batching.max_batch_size
  message.batch_timeout_micros.value = batching.batch_timeout_micros
  message.max_enqueued_batches.value = batching.max_enqueued_batches
  message.num_batch_threads.value = batching.num_batch_threads
  message.allowed_batch_sizes.extend(batching.allowed_batch_sizes)
  return text_format.MessageToString(message)


def server_flags(config: ForgeConfig, config_dir: str) -> List[str]:
  """tensorflow_model_server's flags for the files written beside models.config, and for its
  version labels: TF Serving checks labels before it loads the versions of a new config, so
  `forge rollout` can label the canary in the change that loads it only with
  --allow_version_labels_for_unavailable_models (which still refuses to move an existing
  label onto a version not loaded; server_core.cc, UpdateModelVersionLabelMap)."""
  flags = ['--allow_version_labels_for_unavailable_models',
           f'--monitoring_config_file={config_dir}/{MONITORING_FILE}']
  if config.batching.enabled:
    flags += ['--enable_batching', f'--batching_parameters_file={config_dir}/{BATCHING_FILE}']
  return flags


def scrape_annotations(config: ForgeConfig, port: int) -> Dict[str, str]:
  """The prometheus.io/* pod annotations the Kubernetes scrape config below reads."""
  return {'prometheus.io/scrape': 'true', 'prometheus.io/port': str(port),
          'prometheus.io/path': config.monitoring.metrics_path}


def _kubernetes_scrape(config: ForgeConfig, namespace: str) -> Dict:
  """Pods of the serving Deployment found through the Kubernetes API, by their annotations."""
  meta = '__meta_kubernetes_pod_'
  return {
      'kubernetes_sd_configs': [{'role': 'pod', 'namespaces': {'names': [namespace]}}],
      'relabel_configs': [
          {'source_labels': [f'{meta}label_app'], 'regex': job_name(config), 'action': 'keep'},
          {'source_labels': [f'{meta}annotation_prometheus_io_scrape'], 'regex': 'true',
           'action': 'keep'},
          # One target per pod, not one per container port (gRPC has no metrics).
          {'source_labels': [f'{meta}container_port_name'], 'regex': 'http', 'action': 'keep'},
          {'source_labels': [f'{meta}annotation_prometheus_io_path'], 'regex': '(.+)',
           'target_label': '__metrics_path__'},
          {'source_labels': ['__address__', f'{meta}annotation_prometheus_io_port'],
           'regex': '([^:]+)(?::\\d+)?;(\\d+)', 'replacement': '$1:$2',
           'target_label': '__address__'},
          {'source_labels': [f'{meta}name'], 'target_label': 'pod'},
      ],
  }


def prometheus_config(config: ForgeConfig, targets: Optional[List[str]] = None,
                      namespace: Optional[str] = None) -> Dict:
  """A Prometheus config scraping TF Serving (static `targets`, or the pods of `namespace`)
  and loading the alerting rules beside it."""
  interval = f'{config.monitoring.scrape_interval_seconds}s'
  job = {'job_name': job_name(config), 'metrics_path': config.monitoring.metrics_path,
         'scrape_interval': interval}
  if namespace is not None:
    job.update(_kubernetes_scrape(config, namespace))
  else:
    job['static_configs'] = [{'targets': list(targets or ['localhost:8501'])}]
  return {'global': {'scrape_interval': interval, 'evaluation_interval': interval},
          'rule_files': [RULES_FILE], 'scrape_configs': [job]}


def _model_selector(config: ForgeConfig, *matchers: str) -> str:
  """A label selector for the model's series, with more matchers such as 'status="OK"'."""
  return '{' + ','.join((f'model_name="{config.model_name}"',) + matchers) + '}'


def _version_path_regex(config: ForgeConfig) -> str:
  """load_attempt_count's model_path is the version directory: <base_path>/<model>/<N>."""
  return f'.*/{config.model_name}/[0-9]+/?'


def alert_rules(config: ForgeConfig) -> Dict:
  """Prometheus alerting rules for one served model."""
  alerts = config.monitoring.alerts
  window = f'{alerts.for_minutes}m'
  after_push = f'{alerts.after_push_minutes}m'
  model = config.model_name
  requests = REQUEST_COUNT.name
  ok = _model_selector(config, f'status="{OK_STATUS}"')
  ok_rate = f'sum(rate({requests}{ok}[{window}]))'
  all_rate = f'sum(rate({requests}{_model_selector(config)}[{window}]))'
  not_found = _model_selector(config, f'status="{NOT_FOUND_STATUS}"')
  not_found_rate = f'sum(rate({requests}{not_found}[{window}]))'
  errors = _model_selector(config, f'status!="{OK_STATUS}"')
  errors_rate = f'sum(rate({requests}{errors}[{window}]))'
  loads = f'{LOAD_ATTEMPTS.name}{{model_path=~"{_version_path_regex(config)}"'
  p99_us = alerts.p99_latency_ms * 1000
  labels = {'severity': 'page', 'model': model}
  rules = [
      {'alert': 'TFServingDown',
       # No replica answers, or none is discovered at all (`or vector(0)`).
       'expr': f'(max(up{{job="{job_name(config)}"}}) or vector(0)) == 0',
       'for': window, 'labels': labels,
       'annotations': {'summary': f'No TF Serving replica of {model} answers scrapes',
                       'description': 'The server opens its ports only once the latest version '
                       'of each model has loaded: no version of the model is available.'}},
      {'alert': 'TFServingNoModelVersion',
       # `unless`, not `== 0`: a server that never answered OK has no OK series at all.
       'expr': f'{not_found_rate} > 0 unless {ok_rate} > 0',
       'for': window, 'labels': labels,
       'annotations': {'summary': f'No version of {model} is available',
                       'description': 'Every request for the model is answered NOT_FOUND '
                       '(no servable): check models.config and the version directories.'}},
      {'alert': 'TFServingErrorRate',
       'expr': f'{errors_rate} / {all_rate} > {alerts.max_error_rate}',
       'for': window, 'labels': labels,
       'annotations': {'summary': f'{model}: more than {alerts.max_error_rate:.0%} of requests '
                       'fail', 'description': 'Share of requests with a status other than OK '
                       f'over {window} (monitoring.alerts.max_error_rate).'}},
      {'alert': 'TFServingLatencyP99',
       'expr': (f'histogram_quantile(0.99, sum by (le) (rate({REQUEST_LATENCY.name}_bucket'
                f'{_model_selector(config)}[{window}]))) > {p99_us:g}'),
       'for': window, 'labels': labels,
       'annotations': {'summary': f'{model}: p99 request latency above '
                       f'{alerts.p99_latency_ms:g} ms',
                       'description': f'TF Serving\'s request_latency p99 over {window} '
                       '(monitoring.alerts.p99_latency_ms).'}},
      {'alert': 'TFServingVersionLoadFailed',
       'expr': f'sum(increase({loads},status="fail"}}[{after_push}])) > 0',
       'labels': labels,
       'annotations': {'summary': f'A pushed version of {model} failed to load',
                       'description': 'load_attempt_count{status="fail"} grew: the pushed '
                       'version is not served; see the server log and `forge versions`.'}},
      {'alert': 'TFServingStoppedAfterPush',
       'expr': (f'{ok_rate} == 0 and sum(rate({requests}{ok}[{window}] offset {after_push}))'
                ' > 0 and '
                f'sum(increase({loads},status="success"}}[{after_push}])) > 0'),
       'for': window, 'labels': labels,
       'annotations': {'summary': f'{model} stopped answering after a new version loaded',
                       'description': 'Requests were answered before the last version '
                       f'loaded (within {after_push}) and none are now: roll back with '
                       '`forge rollback CONFIG --to VERSION`.'}},
  ]
  for rule in rules:  # a copy each: one shared dict would be written as a YAML alias
    rule['labels'] = dict(rule['labels'])
  return {'groups': [{'name': f'tf-serving-{model}', 'rules': rules}]}


def _panel(panel_id: int, title: str, targets: List[Dict], unit: str, x: int, y: int) -> Dict:
  return {'id': panel_id, 'type': 'timeseries', 'title': title,
          'datasource': {'type': 'prometheus', 'uid': '${datasource}'},
          'gridPos': {'h': 8, 'w': 12, 'x': x, 'y': y},
          'fieldConfig': {'defaults': {'unit': unit}, 'overrides': []},
          'targets': [{'refId': chr(ord('A') + i), **target} for i, target in enumerate(targets)]}


def dashboard(config: ForgeConfig) -> Dict:
  """A Grafana dashboard (JSON model): request rate, latency percentiles, errors, loads."""
  selector = _model_selector(config)
  errors = _model_selector(config, f'status!="{OK_STATUS}"')
  window = '$__rate_interval'
  latency = [{'expr': f'histogram_quantile({q}, sum by (le) (rate({REQUEST_LATENCY.name}_bucket'
                      f'{selector}[{window}])))', 'legendFormat': f'p{round(q * 100)}'}
             for q in (0.5, 0.9, 0.99)]
  panels = [
      _panel(1, 'Requests per second, by status',
             [{'expr': f'sum by (status) (rate({REQUEST_COUNT.name}{selector}[{window}]))',
               'legendFormat': '{{status}}'}], 'reqps', 0, 0),
      _panel(2, 'Request latency (TF Serving, per request)', latency, 'µs', 12, 0),
      _panel(3, 'Share of requests failing',
             [{'expr': f'sum(rate({REQUEST_COUNT.name}{errors}[{window}])) / '
                       f'sum(rate({REQUEST_COUNT.name}{selector}[{window}]))',
               'legendFormat': 'errors'}], 'percentunit', 0, 8),
      _panel(4, 'Versions loaded (successful loads per version directory)',
             [{'expr': f'sum by (model_path, status) ({LOAD_ATTEMPTS.name}'
                       f'{{model_path=~"{_version_path_regex(config)}"}})',
               'legendFormat': '{{model_path}} {{status}}'}], 'short', 12, 8),
      _panel(5, 'TensorFlow runtime latency p99',
             [{'expr': f'histogram_quantile(0.99, sum by (le) (rate({RUNTIME_LATENCY.name}'
                       f'_bucket{selector}[{window}])))', 'legendFormat': 'p99'}], 'µs', 0, 16),
      _panel(6, 'Batching: time requests wait in the queue (p99)',
             [{'expr': f'histogram_quantile(0.99, sum by (le) (rate({QUEUING_LATENCY.name}'
                       f'_bucket[{window}])))', 'legendFormat': 'p99'}], 'µs', 12, 16),
  ]
  return {
      'title': f'TF Serving: {config.model_name}',
      'uid': f'tfx-forge-{job_name(config)}'[:40],
      'tags': ['tfx-forge', 'tensorflow-serving'],
      'timezone': 'utc', 'schemaVersion': 39, 'version': 1, 'refresh': '30s',
      'time': {'from': 'now-6h', 'to': 'now'},
      'templating': {'list': [{'name': 'datasource', 'type': 'datasource',
                               'query': 'prometheus', 'label': 'Prometheus'}]},
      'panels': panels,
  }


def write_monitoring(config: ForgeConfig, output_dir: Path, targets: Optional[List[str]] = None,
                     namespace: Optional[str] = None) -> Dict[str, Path]:
  """Writes the Prometheus config, alerting rules and Grafana dashboard into output_dir."""
  output_dir.mkdir(parents=True, exist_ok=True)
  files = {
      PROMETHEUS_FILE: yaml.safe_dump(prometheus_config(config, targets, namespace),
                                      sort_keys=False),
      RULES_FILE: yaml.safe_dump(alert_rules(config), sort_keys=False, width=1000),
      DASHBOARD_FILE: json.dumps(dashboard(config), indent=2, ensure_ascii=False) + '\n',
  }
  written = {}
  for name, text in files.items():
    written[name] = output_dir / name
    written[name].write_text(text, encoding='utf-8')
  return written


def write_server_files(config: ForgeConfig, output_dir: Path) -> Dict[str, Path]:
  """The files tensorflow_model_server reads beside models.config (see server_flags)."""
  output_dir.mkdir(parents=True, exist_ok=True)
  files = {MONITORING_FILE: monitoring_config(config)}
  if config.batching.enabled:
    files[BATCHING_FILE] = batching_parameters(config)
  written = {}
  for name, text in files.items():
    written[name] = output_dir / name
    written[name].write_text(text)
  return written


def write_serving_files(config: ForgeConfig, output_dir: Path,
                        targets: Optional[List[str]] = None) -> Dict[str, Path]:
  """Everything above for a server outside Kubernetes (`forge serving-files`): the server's
  files, and Prometheus scraping `targets` (host:port of the REST API)."""
  return {**write_server_files(config, output_dir),
          **write_monitoring(config, output_dir, targets=targets)}
