"""The pipeline config: one YAML file per pipeline, validated before anything runs.

Relative paths in a config file are resolved against the directory the command runs
from, like every other CLI path. Unknown keys, wrong types and missing data paths are
reported with the key that is wrong and what to write instead.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Literal, Optional

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from base.names import K8S_NAME, SAFE_NAME
from base.settings import (DistillationSection, ModelCardSection, OptimizationSection, Section,
                           TrainingSection, TuningSection)
from models.common.family import MODELS_DIR
from pipeline import datasets



def model_families() -> tuple:
  """Every folder under models/ with a features.py (`forge init` adds folders)."""
  return tuple(sorted(path.parent.name for path in MODELS_DIR.glob('*/features.py')))
# Higher is better for the classification metrics, lower for the regression ones.
HIGHER_IS_BETTER = ('accuracy', 'auc', 'precision', 'recall')
LOWER_IS_BETTER = ('rmse', 'mae')
GATED_METRICS = HIGHER_IS_BETTER + LOWER_IS_BETTER


class ConfigError(ValueError):
  """A config file or flag that cannot be used; the message says which key and how to fix it."""


class PipelineSection(Section):
  name: str = Field(description='Pipeline name: MLMD context and output folder name.')
  root: Path = Field(description='Pipeline root: artifacts, ML Metadata (sqlite) and logs.')

  @field_validator('name')
  @classmethod
  def _safe_name(cls, value: str) -> str:
    if not SAFE_NAME.match(value):
      raise ValueError(
          f'{value!r} is not a safe name: use a letter then letters, digits, "_" or "-" '
          '(at most 63 characters)')
    return value


class DataSection(Section):
  builtin: Optional[Literal[tuple(datasets.BUILTIN)]] = Field(
      None, description='A dataset that ships in an installed package.')
  path: Optional[Path] = Field(None, description='A file or a directory of files; TFX span '
                               'specs ({SPAN}, {VERSION}, {YYYY}/{MM}/{DD}) in its names make '
                               'each run read the newest span.')
  window: int = Field(1, ge=1, description='Spans to train on: this run\'s and the newest '
                      'accepted ones before it (needs a span pattern).')
  format: Literal['csv', 'tfrecord'] = 'csv'
  schema_path: Optional[Path] = Field(
      None, alias='schema',
      description='Curated schema.pbtxt; default schemas/<dataset>/schema.pbtxt when it exists.')
  dataset: Optional[str] = Field(
      None, description='Dataset name used to find the curated schema (default: builtin name).')
  eval_fraction: float = Field(1 / 3, gt=0, lt=1, description='Share of the rows in the eval '
                               'split: a random split over rows, the same on every run.')
  split_seed: int = Field(0, description='Seed of the random split over rows (another seed, '
                          'another split).')
  split_by: Optional[str] = Field(
      None, description='A column whose rows go to one split together (a customer, a patient, '
      'a session): for data where a group in both splits would be the leak.')
  eval_path: Optional[Path] = Field(
      None, description='Data that arrives split: data.path holds the training rows and this '
      'file or directory the eval rows, used as given.')
  max_leakage: float = Field(
      0.01, ge=0, le=1, description='Largest excess of eval rows repeating a training row '
      '(same feature values) over what a random split of this data gives, as a fraction of '
      'the eval rows, before the run stops.')
  drop_unlabeled: bool = Field(
      False, description='Train without rows whose label is empty (else they stop the run).')
  check_drift: bool = Field(
      True, description="Compare the training data with the data accepted last, using the "
      "schema's drift_comparator thresholds; false accepts this run's data as the new baseline.")
  delimiter: Literal[',', ';', '\t', '|'] = Field(
      ',', description='CSV field separator (";" for many European spreadsheet exports).')
  min_train_rows: int = Field(
      20, ge=1, description='Fewest training rows a run goes on with (stops before Transform).')
  min_eval_rows: int = Field(
      5, ge=1, description='Fewest eval rows a run goes on with (stops before Transform).')

  @model_validator(mode='after')
  def _one_source(self) -> 'DataSection':
    if (self.builtin is None) == (self.path is None):
      raise ValueError(
          'set exactly one of data.builtin (one of: '
          f'{", ".join(datasets.BUILTIN)}) or data.path (a CSV/TFRecord file or directory)')
    if self.window > 1 and not self.has_spans:
      raise ValueError(f'data.window {self.window} needs spans: put {{SPAN}} in data.path\'s '
                       'file or folder names (e.g. data/span-{SPAN}/rows.csv)')
    if self.eval_path is not None:
      if self.path is None or self.has_spans or datasets.has_spans(self.eval_path):
        raise ValueError('data.eval_path needs data.path without span patterns (the training '
                         'rows of data that arrives split)')
      if self.split_by:
        raise ValueError('data.split_by splits the rows of data.path; with data.eval_path '
                         'the data is already split: remove one of them')
    return self

  @property
  def has_spans(self) -> bool:
    if self.builtin is not None:
      return datasets.has_spans(datasets.BUILTIN[self.builtin].pattern)
    return datasets.has_spans(self.path)


class FeatureRoles(Section):
  """What the tabular family does with each column (forge init --data writes these)."""
  numeric: List[str] = Field(default_factory=list,
                             description='Numbers: missing imputed, z-scored, clipped.')
  skewed: List[str] = Field(default_factory=list, description='Skewed numbers: z-scored and '
                            'also one-hot quantile buckets.')
  categorical: List[str] = Field(default_factory=list,
                                 description='Strings: a vocabulary, one-hot encoded.')
  integer_code: List[str] = Field(default_factory=list, description='Small non-negative '
                                  'integer codes: one-hot (codes above 63 fold by modulo).')

  def all(self) -> List[str]:
    return self.numeric + self.skewed + self.categorical + self.integer_code


TABULAR = 'tabular'


class ModelSection(Section):
  family: str = Field(description='Folder under models/.')
  hparams: Dict[str, float | int | str | List[int]] = Field(
      default_factory=dict, description='Model-family hyperparameters (layer sizes, ...).')
  # The tabular family is described here instead of in Python:
  label: Optional[str] = Field(None, description='tabular: the column to predict.')
  task: Optional[Literal['classification', 'regression']] = Field(
      None, description='tabular: classification (label values in `classes`) or regression.')
  classes: List[str] = Field(
      default_factory=list, description='tabular classification: the label values, in the '
      "model's output order (forge init lists the data's).")
  features: FeatureRoles = Field(default_factory=FeatureRoles,
                                 description='tabular: the columns the model reads, by role.')
  loss: Literal['mse', 'huber'] = Field('mse', description='tabular regression loss.')

  @model_validator(mode='after')
  def _tabular_described(self) -> 'ModelSection':
    described = {'label': self.label, 'task': self.task, 'classes': self.classes,
                 'features': self.features.all()}
    if self.family != TABULAR:
      given = [key for key, value in described.items() if value]
      if given:
        raise ValueError(f'model.{given[0]} describes the tabular family; the {self.family} '
                         'family defines its data in models/' + self.family + '/features.py')
      return self
    missing = [key for key in ('label', 'task', 'features') if not described[key]]
    if missing:
      raise ValueError(f'model.family tabular needs model.{missing[0]} (forge init NAME '
                       '--data PATH --label COLUMN writes a config with all of it)')
    columns = self.features.all()
    repeated = sorted({name for name in columns if columns.count(name) > 1})
    if repeated:
      raise ValueError(f'model.features: {repeated} have more than one role; give each '
                       'column one')
    if self.label in columns:
      raise ValueError(f'model.features lists the label {self.label!r}; remove it there')
    if self.task == 'classification' and len(self.classes) < 2:
      raise ValueError('model.classes: a classification needs at least two label values '
                       f'(got {self.classes})')
    if self.task == 'classification' and len(set(self.classes)) != len(self.classes):
      raise ValueError(f'model.classes repeats a value: {self.classes}')
    if self.task == 'regression' and self.classes:
      raise ValueError('model.classes is for classification; remove it for a regression')
    return self

  def family_spec(self) -> Optional[Dict[str, object]]:
    """What load_family builds the tabular family from (exec properties carry it)."""
    if self.family != TABULAR:
      return None
    return {'label': self.label, 'task': self.task, 'classes': list(self.classes),
            'features': self.features.model_dump(), 'loss': self.loss}

  @field_validator('family')
  @classmethod
  def _known_family(cls, value: str) -> str:
    if value not in model_families():
      raise ValueError(f'{value!r} is not a model family; choose one of '
                       + ', '.join(repr(name) for name in model_families())
                       + ' (or create one: forge init <name> --from penguin)')
    return value


class MetricGate(Section):
  """min/max_drop for a metric where higher is better, max/max_increase for rmse and mae."""
  min: Optional[float] = Field(None, description='Value threshold on the eval split.')
  max_drop: Optional[float] = Field(
      None, ge=0, description='Largest allowed drop against the last blessed model.')
  max: Optional[float] = Field(None, description='Value ceiling on the eval split.')
  max_increase: Optional[float] = Field(
      None, ge=0, description='Largest allowed increase against the last blessed model.')


class GatesSection(Section):
  metrics: Dict[Literal[GATED_METRICS], MetricGate] = Field(default_factory=dict)

  @model_validator(mode='after')
  def _directions(self) -> 'GatesSection':
    for name, gate in self.metrics.items():
      if name in LOWER_IS_BETTER and (gate.min is not None or gate.max_drop is not None):
        raise ValueError(f'gates.metrics.{name}: lower is better; bound it with max and '
                         'max_increase, not min and max_drop')
      if name in HIGHER_IS_BETTER and (gate.max is not None or gate.max_increase is not None):
        raise ValueError(f'gates.metrics.{name}: higher is better; bound it with min and '
                         'max_drop, not max and max_increase')
    return self
  slices: List[str] = Field(
      default_factory=list, description='Raw features whose values the Evaluator also '
      'reports metrics for, one slice per value (the report shows them); gates use all rows.')


class OutputsSection(Section):
  serving_dir: Path = Field(description='TF Serving base dir: <serving_dir>/<model>/<version>/.')
  mobile_dir: Optional[Path] = Field(
      None, description='TFLite push dir: <mobile_dir>/<model>/<version>/model.tflite '
      '(default: "mobile" beside serving_dir).')

  @property
  def mobile_path(self) -> Path:
    return self.mobile_dir or self.serving_dir.parent / 'mobile'


class BeamSection(Section):
  args: List[str] = Field(
      default_factory=lambda: ['--direct_running_mode=in_memory', '--direct_num_workers=1'])


REMOTE_SCHEMES = ('gs://', 's3://', 'minio://', 'hdfs://', 'abfs://')


def _remote_uri(key: str, value: str) -> str:
  if not value.startswith(REMOTE_SCHEMES):
    raise ValueError(
        f'{value!r} is a local path, which the pipeline\'s pods cannot see; use a bucket URI '
        f'({", ".join(REMOTE_SCHEMES)}) for {key}')
  return value.rstrip('/')


class TrainerResources(Section):
  cpu: Optional[float] = Field(None, gt=0, description='vCPU limit of the Trainer pod.')
  memory_gb: Optional[float] = Field(None, gt=0, description='Memory limit in GB.')
  gpu: int = Field(0, ge=0, description='Number of accelerators.')
  gpu_type: Optional[str] = Field(None, description='e.g. nvidia.com/gpu or NVIDIA_TESLA_T4')

  @model_validator(mode='after')
  def _gpu_type_with_gpus(self) -> 'TrainerResources':
    if self.gpu and not self.gpu_type:
      raise ValueError('kubeflow.trainer.gpu_type is required when kubeflow.trainer.gpu > 0 '
                       '(e.g. nvidia.com/gpu)')
    return self


# The label the default NetworkPolicy asks of callers in the serving namespace.
SERVING_CLIENT_LABEL = 'tfx-forge/serving-client'


class ServingClient(Section):
  """Who may call TF Serving: every pod of a namespace, or pods with these labels."""
  namespace: Optional[str] = Field(
      None, description='A namespace whose pods may call (all of them, or those with pod_labels).')
  pod_labels: Dict[str, str] = Field(
      default_factory=dict,
      description='Labels the calling pods carry (in namespace, else in the serving namespace).')

  @model_validator(mode='after')
  def _names_someone(self) -> 'ServingClient':
    if self.namespace is None and not self.pod_labels:
      raise ValueError('kubeflow.serving.clients: each client needs a namespace, pod_labels or '
                       'both, e.g. {namespace: apps} or {pod_labels: {app: frontend}}')
    if self.namespace is not None and not K8S_NAME.match(self.namespace):
      raise ValueError(f'kubeflow.serving.clients: namespace {self.namespace!r} is not a '
                       'Kubernetes name (lower-case letters, digits and "-")')
    return self


class ServingPod(Section):
  """The TF Serving pods of `forge compile` (kubeflow/serving.py): size, user, callers."""
  namespace: str = Field('tfx-forge', description='Namespace of the Deployment, Service and '
                         'NetworkPolicy (should enforce the restricted Pod Security Standard).')
  cpu: float = Field(0.5, gt=0, description='vCPUs requested per pod.')
  cpu_limit: float = Field(2, gt=0, description='vCPU limit per pod.')
  memory_gb: float = Field(1, gt=0, description='Memory requested per pod, in GB.')
  memory_limit_gb: float = Field(2, gt=0, description='Memory limit per pod, in GB.')
  uid: int = Field(65532, description='Non-root UID (and GID) TF Serving runs as.')
  clients: List[ServingClient] = Field(
      default_factory=lambda: [ServingClient(pod_labels={SERVING_CLIENT_LABEL: 'true'})],
      description='Who the NetworkPolicy admits on the gRPC and REST ports.')

  @field_validator('namespace')
  @classmethod
  def _namespace(cls, value: str) -> str:
    if not K8S_NAME.match(value):
      raise ValueError(f'kubeflow.serving.namespace {value!r} is not a Kubernetes name '
                       '(lower-case letters, digits and "-")')
    return value

  @field_validator('uid')
  @classmethod
  def _non_root(cls, value: int) -> int:
    if value <= 0:
      raise ValueError(f'kubeflow.serving.uid {value} is root or invalid, which the restricted '
                       'Pod Security Standard refuses; use a UID above 0, e.g. 65532')
    return value

  @field_validator('clients')
  @classmethod
  def _some_clients(cls, value: List[ServingClient]) -> List[ServingClient]:
    if not value:
      raise ValueError('kubeflow.serving.clients is empty, so no one could call the model; '
                       'name at least one, e.g. [{namespace: apps}]')
    return value

  @model_validator(mode='after')
  def _limits_cover_requests(self) -> 'ServingPod':
    for request, limit in (('cpu', 'cpu_limit'), ('memory_gb', 'memory_limit_gb')):
      if getattr(self, limit) < getattr(self, request):
        raise ValueError(f'kubeflow.serving.{limit} ({getattr(self, limit)}) is below '
                         f'kubeflow.serving.{request} ({getattr(self, request)}); raise the '
                         'limit or lower the request')
    return self


class AlertSection(Section):
  """Bounds the Prometheus alerting rules hold TF Serving to (kubeflow/monitoring.py)."""
  p99_latency_ms: float = Field(
      250, gt=0, description='Alert when the 99th percentile of request latency stays above '
      'this many milliseconds (TF Serving\'s request_latency histogram).')
  max_error_rate: float = Field(
      0.05, gt=0, lt=1, description='Alert when more than this share of requests ends in an '
      'error status (request_count by status).')
  for_minutes: int = Field(5, ge=1, description='How long a condition must hold before its '
                           'alert fires, and the rate window it is measured over.')
  after_push_minutes: int = Field(
      30, ge=1, description='How long after a version loads a stop in answers is blamed on it.')


class MonitoringSection(Section):
  """TF Serving's Prometheus endpoint and what is scraped and alerted on."""
  metrics_path: str = Field('/monitoring/prometheus/metrics',
                            description='Where TF Serving serves its metrics, on the REST port.')
  scrape_interval_seconds: int = Field(15, ge=1)
  prometheus_namespace: str = Field(
      'monitoring', description='Namespace of the Prometheus that scrapes the serving pods: '
      'the NetworkPolicy admits it on the REST port only.')
  alerts: AlertSection = Field(default_factory=AlertSection)

  @field_validator('metrics_path')
  @classmethod
  def _absolute(cls, value: str) -> str:
    if not value.startswith('/') or ' ' in value:
      raise ValueError(f'monitoring.metrics_path {value!r} must be a URL path starting with "/", '
                       'e.g. /monitoring/prometheus/metrics')
    return value

  @field_validator('prometheus_namespace')
  @classmethod
  def _namespace(cls, value: str) -> str:
    if not K8S_NAME.match(value):
      raise ValueError(f'monitoring.prometheus_namespace {value!r} is not a Kubernetes name '
                       '(lower-case letters, digits and "-")')
    return value


class BatchingSection(Section):
  """TF Serving's server-side batching (--enable_batching with a BatchingParameters file).
  Defaults from benchmarks/serving.py (see the README's Batching)."""
  enabled: bool = True
  max_batch_size: int = Field(64, ge=1, description='Largest batch the server forms.')
  batch_timeout_micros: int = Field(
      1000, ge=0, description='How long a request may wait for others to fill a batch.')
  max_enqueued_batches: int = Field(100, ge=1, description='Queue length, in batches; '
                                    'requests beyond it are refused (UNAVAILABLE).')
  num_batch_threads: int = Field(2, ge=1, description='Threads running batches: the pod\'s '
                                 'CPU limit is a good value.')
  allowed_batch_sizes: List[int] = Field(
      default_factory=lambda: [8, 16, 32, 64],
      description='Batches are padded up to one of these; increasing, the last one '
      'max_batch_size.')

  @model_validator(mode='after')
  def _sizes(self) -> 'BatchingSection':
    sizes = self.allowed_batch_sizes
    if sizes and (sizes != sorted(set(sizes)) or sizes[-1] != self.max_batch_size):
      example = [s for s in (8, 16, 32) if s < self.max_batch_size] + [self.max_batch_size]
      raise ValueError(f'batching.allowed_batch_sizes {sizes} must increase and end with '
                       f'batching.max_batch_size ({self.max_batch_size}), as TF Serving '
                       f'requires; e.g. {example}')
    return self


class KubeflowSection(Section):
  """Running on Kubeflow Pipelines: what differs from a local run."""
  image: str = Field(description='Pipeline image built from kubeflow/Dockerfile.')
  pipeline_root: str = Field(description='Bucket URI for artifacts, e.g. gs://bucket/tfx/penguin.')
  data_root: str = Field(description='Bucket folder with the data files (run parameter data-root).')
  serving_dir: str = Field(description='Bucket URI that TF Serving reads models from.')
  mobile_dir: Optional[str] = Field(
      None, description='Bucket URI for .tflite pushes (default: "mobile" beside serving_dir).')
  beam_args: List[str] = Field(
      default_factory=list,
      description='Beam args on the cluster, e.g. --runner=DataflowRunner or a Flink address.')
  trainer: TrainerResources = Field(default_factory=TrainerResources)
  project_dir: str = Field('/app', description='Where the image holds this project.')
  serving_image: str = Field('tensorflow/serving:2.16.1', description='TF Serving image.')
  serving_replicas: int = Field(2, ge=1)
  serving: ServingPod = Field(default_factory=ServingPod)

  @field_validator('pipeline_root', 'data_root', 'serving_dir', 'mobile_dir')
  @classmethod
  def _remote(cls, value: Optional[str], info) -> Optional[str]:
    return value if value is None else _remote_uri(f'kubeflow.{info.field_name}', value)

  @field_validator('image')
  @classmethod
  def _image(cls, value: str) -> str:
    if not value or ' ' in value:
      raise ValueError('set an image reference such as registry.example.com/tfx-forge:0.1.0')
    return value


class ForgeConfig(Section):
  pipeline: PipelineSection
  data: DataSection
  model: ModelSection
  training: TrainingSection = Field(default_factory=TrainingSection)
  tuning: TuningSection = Field(default_factory=TuningSection)
  gates: GatesSection = Field(default_factory=GatesSection)
  distillation: DistillationSection = Field(default_factory=DistillationSection)
  optimization: OptimizationSection = Field(default_factory=OptimizationSection)
  outputs: OutputsSection
  beam: BeamSection = Field(default_factory=BeamSection)
  model_card: ModelCardSection = Field(default_factory=ModelCardSection)
  monitoring: MonitoringSection = Field(default_factory=MonitoringSection)
  batching: BatchingSection = Field(default_factory=BatchingSection)
  kubeflow: Optional[KubeflowSection] = None

  @model_validator(mode='after')
  def _regression_supported(self) -> 'ForgeConfig':
    if self.model.task == 'regression':
      for section, enabled in (('distillation', self.distillation.enabled),
                               ('training.privacy', self.training.privacy.enabled)):
        if enabled:
          raise ValueError(f'{section} is built for classification; set {section}.enabled: '
                           'false for this regression')
    return self

  @model_validator(mode='after')
  def _distillation_feeds_optimization(self) -> 'ForgeConfig':
    if self.distillation.enabled and not self.optimization.enabled:
      raise ValueError('distillation.enabled needs optimization.enabled: true (the student is '
                       'what the ModelOptimizer turns into TFLite for mobile)')
    return self

  @property
  def metadata_path(self) -> Path:
    return self.pipeline.root / 'metadata.sqlite'

  @property
  def model_name(self) -> str:
    return self.pipeline.name


# CLI flags that override config values: flag name -> dotted config key.
OVERRIDABLE = {
    'pipeline_name': 'pipeline.name',
    'pipeline_root': 'pipeline.root',
    'serving_dir': 'outputs.serving_dir',
    'data_path': 'data.path',
    'epochs': 'training.epochs',
    'train_steps': 'training.train_steps',
    'eval_steps': 'training.eval_steps',
    'batch_size': 'training.batch_size',
    'learning_rate': 'training.learning_rate',
}


def load_config(path: str | Path, overrides: Optional[Dict[str, object]] = None) -> ForgeConfig:
  """Reads, overrides and validates a config file; raises ConfigError naming the bad key."""
  path = Path(path)
  if not path.is_file():
    raise ConfigError(f'{path}: config file not found. Pass the path of a YAML config, '
                      'e.g. configs/penguin.yaml.')
  try:
    # safe_load never constructs Python objects from tags.
    raw = yaml.safe_load(path.read_text(encoding='utf-8'))
  except yaml.YAMLError as err:
    raise ConfigError(f'{path}: not valid YAML: {err}') from err
  if not isinstance(raw, dict):
    raise ConfigError(f'{path}: the top level must be a mapping of sections '
                      '(pipeline, data, model, training, gates, outputs, beam).')
  for dotted_key, value in (overrides or {}).items():
    _set_dotted(raw, dotted_key, value)
  if (overrides or {}).get('data.path') is not None and raw['data'].get('builtin'):
    # Other rows of the same dataset: keep validating them with its curated schema.
    raw['data'].setdefault('dataset', raw['data'].pop('builtin'))
  try:
    config = ForgeConfig.model_validate(raw)
  except ValidationError as err:
    raise ConfigError(_describe(path, err)) from None
  _check_paths(path, config)
  return config


def _set_dotted(raw: dict, dotted_key: str, value: object) -> None:
  section, key = dotted_key.split('.')
  target = raw.setdefault(section, {})
  if not isinstance(target, dict):
    raise ConfigError(f'config section {section!r} must be a mapping')
  target[key] = value


def _describe(path: Path, err: ValidationError) -> str:
  lines = [f'{path}: {err.error_count()} problem(s) in the config:']
  for problem in err.errors():
    key = '.'.join(str(part) for part in problem['loc']) or '(top level)'
    if problem['type'] == 'extra_forbidden':
      message = 'unknown key; remove it or check its spelling and section'
    elif problem['type'] == 'missing':
      message = 'required key is missing'
    else:
      message = problem['msg']
      if 'input' in problem and not isinstance(problem['input'], dict):
        message += f' (got {problem["input"]!r})'
    lines.append(f'  {key}: {message}')
  return '\n'.join(lines)


def _check_paths(path: Path, config: ForgeConfig) -> None:
  data = config.data
  if data.path is not None and data.has_spans:
    source = datasets.locate(None, data.path, data.format, Path('.'))
    if not source.input_base.is_dir():
      raise ConfigError(f'{path}: data.path: {source.input_base} (before the span pattern) is '
                        'not a directory. Point data.path at <folder>/<pattern with {SPAN}>.')
    if not any(source.input_base.glob(datasets.span_glob(source.pattern))):
      raise ConfigError(f'{path}: data.path: no file under {source.input_base} matches '
                        f'{source.pattern} yet. Add the first span, e.g. '
                        f'{source.pattern.replace("{SPAN}", "1")}.')
  elif data.path is not None and not data.path.exists():
    raise ConfigError(f'{path}: data.path: {data.path} does not exist. Point it at a '
                      f'{data.format.upper()} file or a directory of them.')
  if data.eval_path is not None and not data.eval_path.exists():
    raise ConfigError(f'{path}: data.eval_path: {data.eval_path} does not exist. Point it at '
                      f'the eval rows: a {data.format.upper()} file or a directory of them.')
  if data.schema_path is not None and not data.schema_path.is_file():
    raise ConfigError(f'{path}: data.schema: {data.schema_path} is not a file. Point it at a '
                      'schema.pbtxt, or remove the key to infer the schema with SchemaGen.')
