"""Training/serving skew from real requests (`forge skew`): requests logged by a client or
gateway (TF Serving's open-source server logs none) as PredictionLog TFRecords, the format
of the warm-up file and of `forge predict --log`, or as JSON lines of REST bodies with
`instances`. Their TFDV statistics are validated against the schema's SERVING environment
and compared with the training statistics of the latest run (StatisticsGen's train split,
found in ML Metadata) by the schema's skew comparators.
"""
from __future__ import annotations

import base64
import dataclasses
import datetime
import json
import math
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence

import tensorflow as tf
import tensorflow_data_validation as tfdv
from tensorflow_data_validation.statistics import stats_impl
from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2, statistics_pb2
from tensorflow_serving.apis import prediction_log_pb2
from tfx_bsl.coders import example_coder

from components.common.statistics import read_schema, split_statistics
from pipeline.summary import latest_schema_uri, open_store

SERVING = 'SERVING'
TRAIN_SPLIT = 'train'
SKEW_REASONS = frozenset({
    anomalies_pb2.AnomalyInfo.COMPARATOR_L_INFTY_HIGH,
    anomalies_pb2.AnomalyInfo.COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH,
    anomalies_pb2.AnomalyInfo.COMPARATOR_NORMALIZED_ABSOLUTE_DIFFERENCE_HIGH,
})
_MEASURES = {
    anomalies_pb2.DriftSkewInfo.Measurement.L_INFTY: 'L-infinity distance',
    anomalies_pb2.DriftSkewInfo.Measurement.JENSEN_SHANNON_DIVERGENCE:
        'Jensen-Shannon divergence',
    anomalies_pb2.DriftSkewInfo.Measurement.NORMALIZED_ABSOLUTE_DIFFERENCE:
        'normalized absolute difference',
}


class SkewError(ValueError):
  """Requests or training statistics that cannot be read; the message says which and why."""


@dataclasses.dataclass(frozen=True)
class Measurement:
  column: str
  measure: str
  distance: float
  threshold: float

  @property
  def skewed(self) -> bool:
    return self.distance > self.threshold


@dataclasses.dataclass
class SkewResult:
  requests_path: str
  requests: int
  statistics_uri: str  # the training statistics compared with
  schema_uri: str
  measurements: List[Measurement]
  anomalies: List[str]  # the requests against the schema's SERVING environment
  thresholds_from_drift: List[str]  # columns whose skew threshold is their drift threshold
  serving_statistics: statistics_pb2.DatasetFeatureStatistics
  training_statistics: statistics_pb2.DatasetFeatureStatistics
  checked_at: str = dataclasses.field(
      default_factory=lambda: datetime.datetime.now(datetime.timezone.utc).strftime(
          '%Y-%m-%dT%H-%M-%SZ'))

  @property
  def skewed(self) -> List[Measurement]:
    return [m for m in self.measurements if m.skewed]

  @property
  def ok(self) -> bool:
    return not self.skewed and not self.anomalies


# ---- reading requests

def _is_missing(value) -> bool:
  return value is None or value == '' or (isinstance(value, float) and math.isnan(value))


def _feature(value, kind: Optional[int]) -> Optional[tf.train.Feature]:
  values = value if isinstance(value, list) else [value]
  values = [v for v in values if not _is_missing(v)]
  if not values:
    return None
  if kind is None:  # a column the schema does not know: typed by its values
    kind = (schema_pb2.BYTES if isinstance(values[0], (str, bytes)) else
            schema_pb2.INT if all(isinstance(v, int) for v in values) else schema_pb2.FLOAT)
  if kind == schema_pb2.BYTES:
    return tf.train.Feature(bytes_list=tf.train.BytesList(
        value=[v if isinstance(v, bytes) else str(v).encode() for v in values]))
  if kind == schema_pb2.INT:
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v) for v in values]))
  return tf.train.Feature(float_list=tf.train.FloatList(value=[float(v) for v in values]))


def example_from_row(row: Dict[str, object], schema: schema_pb2.Schema) -> bytes:
  """A raw-feature row (a REST instance, a serving_raw request's row) as a tf.Example."""
  kinds = {feature.name: feature.type for feature in schema.feature}
  features = {name: _feature(value, kinds.get(name)) for name, value in row.items()}
  return tf.train.Example(features=tf.train.Features(
      feature={k: v for k, v in features.items() if v is not None})).SerializeToString()


def _plain(value):
  if isinstance(value, bytes):
    return value.decode('utf-8', errors='replace')
  return value.item() if hasattr(value, 'item') else value


def _from_prediction_log(log: prediction_log_pb2.PredictionLog,
                         schema: schema_pb2.Schema) -> List[bytes]:
  kind = log.WhichOneof('log_type')
  if kind == 'predict_log':
    request = log.predict_log.request
    inputs = {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}
    if 'examples' in inputs:  # serving_default: serialized tf.Examples
      return [bytes(e) for e in inputs['examples'].reshape(-1)]
    rows = len(next(iter(inputs.values()))) if inputs else 0
    return [example_from_row({name: _plain(values[i]) if values.ndim == 1 else
                              [_plain(v) for v in values[i]]
                              for name, values in inputs.items()}, schema)
            for i in range(rows)]
  if kind in ('classify_log', 'regress_log'):
    request = getattr(log, kind).request
    return [e.SerializeToString() for e in request.input.example_list.examples]
  return []


def _from_json_line(line: str, schema: schema_pb2.Schema, where: str) -> List[bytes]:
  try:
    body = json.loads(line)
  except json.JSONDecodeError as err:
    raise SkewError(f'{where}: not JSON ({err.msg}). Each line should be a REST body such '
                    'as {"instances": [{"bill_length_mm": 39.1, ...}]}.') from None
  instances = body.get('instances', [body]) if isinstance(body, dict) else None
  if not isinstance(instances, list):
    raise SkewError(f'{where}: expected an object with an "instances" list')
  examples = []
  for instance in instances:
    if not isinstance(instance, dict):
      raise SkewError(f'{where}: an instance is {type(instance).__name__}, not an object of '
                      'feature values (the row format of TF Serving\'s REST API)')
    encoded = instance.get('examples')
    if isinstance(encoded, dict) and 'b64' in encoded:  # serving_default over REST
      examples.append(base64.b64decode(encoded['b64']))
    else:
      examples.append(example_from_row(instance, schema))
  return examples


def _files(path: Path) -> List[Path]:
  if path.is_dir():
    files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith('.'))
    if not files:
      raise SkewError(f'{path}: the directory holds no request logs')
    return files
  if not path.is_file():
    raise SkewError(f'{path} does not exist. Pass a PredictionLog TFRecord file, a JSON-lines '
                    'file of REST bodies, or a directory of them (`forge predict --log DIR`).')
  return [path]


def read_requests(path: Path, schema: schema_pb2.Schema) -> Iterator[bytes]:
  """Each request row as a serialized tf.Example."""
  for file in _files(path):
    with open(file, 'rb') as source:
      head = source.read(1).lstrip()
    if head in (b'{', b'['):
      with open(file, encoding='utf-8') as lines:
        for number, line in enumerate(lines, start=1):
          if line.strip():
            yield from _from_json_line(line, schema, f'{file}: line {number}')
      continue
    try:
      for record in tf.data.TFRecordDataset(str(file)):
        yield from _from_prediction_log(
            prediction_log_pb2.PredictionLog.FromString(record.numpy()), schema)
    except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as err:
      raise SkewError(f'{file}: neither JSON lines nor a TFRecord of PredictionLog '
                      f'({err.message.splitlines()[0]})') from None


def statistics_of(examples: Sequence[bytes]) -> statistics_pb2.DatasetFeatureStatistics:
  """TFDV statistics of serialized tf.Examples, decoded as StatisticsGen decodes them."""
  batch = example_coder.ExamplesToRecordBatchDecoder().DecodeBatch(list(examples))
  return stats_impl.generate_statistics_in_memory(batch, tfdv.StatsOptions()).datasets[0]


# ---- training statistics and the schema

def training_statistics(metadata_path: Path) -> tuple:
  """(uri, train split statistics) of the newest StatisticsGen output in ML Metadata."""
  if not metadata_path.is_file():
    raise SkewError(f'{metadata_path}: no ML Metadata; run the pipeline first (`forge run`)')
  store = open_store(metadata_path)
  produced = [a for a in store.get_artifacts_by_type('ExampleStatistics')
              if a.uri.rstrip('/').split('/')[-3] == 'StatisticsGen']
  if not produced:
    raise SkewError(f'{metadata_path}: no StatisticsGen output recorded; run the pipeline first')
  uri = max(produced, key=lambda a: a.id).uri
  splits = split_statistics(uri)
  if TRAIN_SPLIT not in splits:
    raise SkewError(f'{uri}: no {TRAIN_SPLIT} split statistics (found {sorted(splits)})')
  return uri, splits[TRAIN_SPLIT]


def skew_schema(schema: schema_pb2.Schema) -> tuple:
  """The schema with a skew comparator on every served feature that has a drift one but no
  skew one (the same distance, the same threshold); returns it and those features' names."""
  schema = schema_pb2.Schema.FromString(schema.SerializeToString())
  borrowed = []
  for feature in schema.feature:
    if SERVING in feature.not_in_environment:
      feature.ClearField('skew_comparator')  # the label: absent from requests by design
      continue
    if not feature.HasField('skew_comparator') and feature.HasField('drift_comparator'):
      feature.skew_comparator.CopyFrom(feature.drift_comparator)
      borrowed.append(feature.name)
  return schema, borrowed


def _measurements(anomalies: anomalies_pb2.Anomalies) -> List[Measurement]:
  return [Measurement('.'.join(info.path.step), _MEASURES.get(m.type, str(m.type)), m.value,
                      m.threshold)
          for info in anomalies.drift_skew_info for m in info.skew_measurements]


def _serving_anomalies(anomalies: anomalies_pb2.Anomalies) -> List[str]:
  return [f'column {feature!r}: {reason.description or reason.short_description}'
          for feature, info in sorted(anomalies.anomaly_info.items())
          for reason in info.reason]


def check(metadata_path: Path, requests_path: Path) -> SkewResult:
  """Validates the requests at requests_path against the latest run's schema and training
  statistics."""
  statistics_uri, training = training_statistics(metadata_path)
  try:
    schema_uri = latest_schema_uri(metadata_path)
  except LookupError as err:
    raise SkewError(str(err)) from None
  schema = read_schema(schema_uri)
  examples = list(read_requests(requests_path, schema))
  if not examples:
    raise SkewError(f'{requests_path}: no requests found in it')
  serving = statistics_of(examples)
  serving_list = statistics_pb2.DatasetFeatureStatisticsList(datasets=[serving])
  training_list = statistics_pb2.DatasetFeatureStatisticsList(datasets=[training])
  environment = tfdv.validate_statistics(serving_list, schema, environment=SERVING)
  compared, borrowed = skew_schema(schema)
  skew = tfdv.validate_statistics(training_list, compared, serving_statistics=serving_list)
  return SkewResult(str(requests_path), len(examples), statistics_uri, schema_uri,
                    sorted(_measurements(skew), key=lambda m: m.column),
                    _serving_anomalies(environment), borrowed, serving, training)


def describe(result: SkewResult) -> List[str]:
  """What the command prints: one line per skewed column and serving anomaly, then a verdict."""
  lines = [f'{result.requests} requests from {result.requests_path} against the training '
           f'statistics in {result.statistics_uri}: {len(result.measurements)} columns compared.']
  for m in result.skewed:
    lines.append(f'Skewed: column {m.column!r}: {m.measure} {m.distance:.4f} between training '
                 f'and serving, above the threshold {m.threshold:g}.')
  for anomaly in result.anomalies:
    lines.append(f'Serving anomaly: {anomaly}')
  if result.thresholds_from_drift:
    lines.append('No skew_comparator in the schema for '
                 f'{", ".join(result.thresholds_from_drift)}: their drift_comparator thresholds '
                 'were used.')
  if result.ok:
    largest = max(result.measurements, key=lambda m: m.distance, default=None)
    lines.append('No skew' + (f'; largest {largest.measure} {largest.distance:.4f} '
                              f'(column {largest.column!r}, threshold {largest.threshold:g}).'
                              if largest else '.'))
  else:
    lines.append('The requests differ from the training data beyond what the schema allows: '
                 'fix the client or the data upstream, or retrain on data like these requests '
                 "(and raise the columns' skew_comparator thresholds in the schema if the "
                 'difference is expected).')
  return lines
