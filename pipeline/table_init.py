"""`forge init NAME --data PATH --label COLUMN [--task classification|regression]`: a
curated schema and a config for the tabular family, from the data alone.

Writes, under the directory it runs in (never into the installed package),
`schemas/NAME/schema.pbtxt` (TFDV's inferred schema, curated: presence from the missing
rates, plausible ranges, closed category sets, drift thresholds, the label kept out of
serving) and `configs/NAME.yaml` (data, family `tabular`, label, task, classes, feature
roles, gates that beat the trivial model on this data), both commented for review.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import List, Optional, Tuple

import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import schema_pb2

from base.names import SAFE_NAME
from components.common.text import clip
from pipeline import preflight, table_baseline
from pipeline.table_profile import Profile, ProfileError, profile

# Drift thresholds as in the curated schemas: resampling moves a feature by far less.
DRIFT_THRESHOLD = 0.25
# How far below the observed presence a later batch's may fall before it is an anomaly.
PRESENCE_SLACK = 0.1
ROLES = ('numeric', 'skewed', 'categorical', 'integer_code')


class InitError(ValueError):
  """forge init --data cannot write the files; the message says why and what to do."""


# The eval share forge init's config keeps (DataSection's default), which the peer is
# scored with.
EVAL_FRACTION = 1 / 3


def _examples(data: Path, data_format: str, delimiter: str, sample: table_baseline.Sample):
  """The examples ExampleGen will make, each also offered to the sample with its position."""
  from components.example_gen import in_process  # imports TensorFlow
  files = [str(path) for path in preflight.data_files(data)]
  input_base = str(data.resolve() if data.is_dir() else data.resolve().parent)
  positioned = (in_process.positioned_tfrecord_examples(files, input_base)
                if data_format == 'tfrecord' else
                in_process.positioned_csv_examples(files, delimiter, input_base))
  for file_key, number, example in positioned:
    sample.add(file_key, number, example)
    yield example


def csv_header(data: Path, delimiter: str) -> List[str]:
  """The first file's header as written in it (ExampleGen renames unsafe names)."""
  import csv
  first = preflight.data_files(data)[0]
  with preflight.open_binary(first) as handle:
    line = handle.readline().decode('utf-8').lstrip('\ufeff')
  return next(csv.reader([line], delimiter=delimiter))


def _curate(schema: schema_pb2.Schema, result: Profile) -> schema_pb2.Schema:
  schema.ClearField('default_environment')
  schema.default_environment.extend(['TRAINING', 'SERVING'])
  for feature in schema.feature:
    column = result.columns[feature.name]
    feature.ClearField('presence')
    feature.ClearField('shape')
    feature.ClearField('value_count')
    missing = column.missing_rate(result.rows)
    if feature.name == result.label.name:
      # Rows without a label stop the run (DataValidationGate) or are dropped.
      feature.presence.min_fraction = 1.0
      feature.presence.min_count = 1
      feature.shape.dim.add().size = 1
      feature.not_in_environment.append('SERVING')
    elif missing == 0:
      feature.presence.min_fraction = 1.0
      feature.presence.min_count = 1
      feature.shape.dim.add().size = 1
    else:
      feature.presence.min_fraction = round(max(0.0, 1 - missing - PRESENCE_SLACK), 3)
      feature.value_count.max = 1  # an empty CSV cell arrives as zero values
    if column.kind in ('int', 'float') and feature.name != result.label.name:
      # A value far outside what was seen is a unit or entry error, not a new regime.
      span = max(column.high - column.low, abs(column.high), 1.0)
      low, high = column.low - span, column.high + span
      if column.kind == 'int':
        feature.int_domain.min, feature.int_domain.max = math.floor(low), math.ceil(high)
      else:
        feature.float_domain.min, feature.float_domain.max = low, high
    if not column.role and feature.name != result.label.name and feature.HasField('domain'):
      # IDs, dates and text left out of the model: new values are expected.
      unused = feature.domain
      feature.ClearField('domain')
      kept = [d for d in schema.string_domain if d.name != unused]
      del schema.string_domain[:]
      schema.string_domain.extend(kept)
    if feature.name == result.label.name and result.task == 'classification' and (
        column.kind == 'int'):
      feature.int_domain.min = int(result.classes[0])
      feature.int_domain.max = int(result.classes[-1])
    if column.role or feature.name == result.label.name:
      # The label drifts as the other columns do: a class vanishing upstream shows here.
      # forge skew compares served requests with training on the model's inputs (requests
      # carry no label).
      skew = feature.skew_comparator if column.role else None
      if feature.type == schema_pb2.BYTES:
        feature.drift_comparator.infinity_norm.threshold = DRIFT_THRESHOLD
        if skew is not None:
          skew.infinity_norm.threshold = DRIFT_THRESHOLD
      else:
        feature.drift_comparator.jensen_shannon_divergence.threshold = DRIFT_THRESHOLD
        if skew is not None:
          skew.jensen_shannon_divergence.threshold = DRIFT_THRESHOLD
  return schema


def _schema_text(schema: schema_pb2.Schema, result: Profile, name: str, data: Path) -> str:
  from google.protobuf import text_format
  header = [
      f'# Curated schema for {name}, written by `forge init {name} --data {data} --label '
      f'{result.label.name}` from {result.rows} rows.',
      '# Started from TFDV\'s inference, then: presence is the observed rate less '
      f'{PRESENCE_SLACK:.0%} for columns with gaps,',
      '# numbers must lie within one observed span of the observed range, categories with',
      '# few values are closed sets (a new value is an anomaly: add it here if it is real),',
      f'# drift thresholds {DRIFT_THRESHOLD} against the data accepted last, and the label is '
      'not sent at serving.',
      '# Review it: it is what every later run is validated against.',
  ]
  return '\n'.join(header) + '\n' + text_format.MessageToString(schema)


def _gates(result: Profile) -> List[str]:
  """Gates a good model can pass: a margin below the peer fitted on the pipeline's own split
  (table_baseline), never easier than the trivial model on the same eval rows."""
  peer = result.peer
  if result.task == 'classification':
    majority = max(result.label.counts.values()) / result.label.present
    trivial = majority if peer is None else peer.trivial
    lines = ['gates:', '  metrics:', '    accuracy:',
             f'      # Always answering the most frequent class scores {trivial:.4f} on the '
             'eval rows.']
    if peer is None:
      floor = majority + 0.01
      lines.append('      # Too few rows to fit a peer: the bar is a point above that rate.')
    else:
      # One eval row better than the constant at least: equalling it is no model.
      floor = max(trivial + 1 / peer.eval_rows, peer.score - table_baseline.ACCURACY_MARGIN)
    if floor >= 1:
      floor = 1.0
      lines.append('      # The eval rows are (nearly) all one class: they cannot tell models apart.')
      lines += [f'      # {peer.name} scores {peer.score:.4f} on them; the bar is '
                f'{table_baseline.ACCURACY_MARGIN:.2f} below it,',
                '      # and at least one eval row better than always answering the most '
                'frequent class.']
    return lines + [f'      min: {floor:.4f}',
                    '      max_drop: 0.02         # against the last blessed model']
  std = result.label.std
  trivial = std if peer is None else peer.trivial
  lines = ['gates:', '  metrics:', '    rmse:',
           f'      # Always answering the mean scores an RMSE of {trivial:.4g} on the eval rows.']
  if peer is None:
    ceiling = 0.99 * std
    lines.append('      # Too few rows to fit a peer: the bar is 1% below the label\'s standard '
                 'deviation.')
  else:
    # Below the constant's RMSE (a constant nearly meets the label's std on eval rows).
    ceiling = min(0.99 * trivial, peer.score * table_baseline.RMSE_FACTOR)
    lines += [f'      # {peer.name} scores {peer.score:.4g}; the bar is '
              f'{table_baseline.RMSE_FACTOR:.2f}x that,',
              '      # and 1% below always answering the mean.']
  return lines + [f'      max: {ceiling:.6g}',
                  f'      max_increase: {0.05 * std:.4g}   # against the last blessed model '
                  '(5% of the std)']


def _training(result: Profile, eval_fraction: float) -> List[str]:
  batch = 32
  train_rows = max(1, round(result.label.present * (1 - eval_fraction)))
  steps = min(5000, max(500, math.ceil(train_rows / batch) * 60))
  return ['training:',
          f'  # About 60 passes over the ~{train_rows} training rows, at least 500 steps.',
          '  epochs: 10',
          f'  train_steps: {steps}',
          '  eval_steps: 20',
          f'  batch_size: {batch}',
          '  learning_rate: 0.003',
          '  lr_schedule: cosine']


def _config_text(name: str, data: Path, data_format: str, delimiter: str, result: Profile,
                 schema_path: Path) -> str:
  columns = sorted(result.columns.values(), key=lambda column: column.name)
  roles = {role: [c.name for c in columns if c.role == role] for role in ROLES}
  left_out = [c for c in columns if c.name != result.label.name and not c.role]
  unlabeled = result.rows - result.label.present
  lines = [
      f'# {name}: the tabular family on {data}, written by `forge init {name} --data {data} '
      f'--label {result.label.name}' + (f' --delimiter {json.dumps(delimiter)}`.'
                                        if delimiter != ',' else '`.'),
      '# Plain settings meant to be reviewed and edited; `forge run configs/'
      f'{name}.yaml` runs it.',
      'pipeline:',
      f'  name: {name}',
      f'  root: build/{name}',
      'data:',
      f'  path: {data}',
      f'  format: {data_format}',
  ]
  if delimiter != ',':
    lines.append(f'  delimiter: {json.dumps(delimiter)}')
  lines.append(f'  schema: {schema_path}    # curated from the data; review it')
  if unlabeled:
    lines.append(f'  drop_unlabeled: true     # {unlabeled} rows have no label: trained without')
  lines += ['model:',
            '  family: tabular',
            f'  label: {result.label.name}',
            f'  task: {result.task}']
  if result.task == 'classification':
    lines.append('  # The label\'s values, in the model\'s output order; others are refused.')
    lines.append(f'  classes: [{", ".join(_yaml_string(c) for c in result.classes)}]')
  lines.append('  features:')
  for role in ROLES:
    lines.append(f'    {role}: [{", ".join(roles[role])}]')
  for column in left_out:
    lines.append(f'    # {column.name}: {column.why}')
  lines.append('  hparams: {hidden_units: [64, 32], dropout: 0.1}')
  lines += _training(result, EVAL_FRACTION)
  lines += _gates(result)
  lines += ['optimization:',
            '  enabled: false          # true: pruned/quantized TFLite variants for phones',
            'outputs:',
            '  serving_dir: build/serving']
  lines += _model_card(name, result)
  return '\n'.join(lines) + '\n'


def _model_card(name: str, result: Profile) -> List[str]:
  """The model card's words the data cannot give, as TODOs for the owner to fill in."""
  return ['# Written into the model card beside every pushed version (forge card).',
          'model_card:',
          f'  overview: "TODO: what {name} predicts ({result.label.name}), for whom, from what."',
          '  owners: [{name: "TODO: team or person", contact: "TODO: email"}]',
          '  use_cases: ["TODO: the decisions it may inform"]',
          '  limitations: ["TODO: data it has not seen, groups it may serve worse"]',
          '  ethical_considerations:',
          '    - {name: "TODO: a risk", mitigation_strategy: "TODO: what is done about it"}']


def _yaml_string(value: str) -> str:
  return json.dumps(value)  # a JSON string is a YAML string


def describe(result: Profile) -> List[str]:
  """What was found per column, and what the model will do with it."""
  lines = [f'{result.rows} rows, {len(result.columns)} columns.',
           f'Label {result.label.name!r} ({result.label.kind}): {result.task}']
  if result.task == 'classification':
    for value in result.classes:
      key = int(value) if result.label.kind == 'int' else value.encode()
      count = result.label.counts[key]
      lines.append(f'  class {clip(value)}: {count} rows ({count / result.label.present:.1%})')
  else:
    lines.append(f'  mean {result.label.mean:.4g}, std {result.label.std:.4g}, '
                 f'range {result.label.low:.4g} to {result.label.high:.4g}')
  unlabeled = result.rows - result.label.present
  if unlabeled:
    lines.append(f'  {unlabeled} rows have no label: left out of training '
                 '(data.drop_unlabeled: true)')
  width = max(len(name) for name in result.columns)
  for column in sorted(result.columns.values(), key=lambda c: c.name):
    if column.name == result.label.name:
      continue
    distinct = f'>{column.distinct - 1}' if column.overflow else str(column.distinct)
    lines.append(f'  {column.name:<{width}}  {column.kind:<6}  missing '
                 f'{column.missing_rate(result.rows):6.1%}  distinct {distinct:>7}  '
                 f'-> {column.why}')
  if result.repetition is not None:
    lines.append('Rows, by the columns the model reads: ' + result.repetition.describe() + '.')
  peer = result.peer
  if peer is not None:
    sampled = f', fitted on a sample of {table_baseline.SAMPLE_ROWS:,} rows' * peer.sampled
    lines.append(f'Peer: {peer.name} scores {peer.metric} {peer.score:.4f} on the '
                 f'{peer.eval_rows} eval rows of the pipeline\'s split{sampled}; the gate is '
                 'set from it (see gates in the config).')
    if peer.metric == 'accuracy' and peer.score < peer.trivial + table_baseline.ACCURACY_MARGIN:
      lines.append(f'  Little signal: the peer is within {table_baseline.ACCURACY_MARGIN:.2f} of '
                   f'always answering the most frequent class ({peer.trivial:.4f}); expect the '
                   'model to be too.')
    if peer.metric == 'rmse' and peer.score > peer.trivial / table_baseline.RMSE_FACTOR:
      lines.append(f'  Little signal: the peer is close to always answering the mean (RMSE '
                   f'{peer.trivial:.4g}).')
  return lines


def init_from_data(name: str, data: Path, label: str, task: Optional[str] = None,
                   data_format: str = 'csv', delimiter: str = ',',
                   out_dir: Optional[Path] = None) -> Tuple[List[Path], Profile]:
  """Profiles the data and writes the schema and config; returns the files written and
  what was found (describe() puts it in words)."""
  out_dir = Path.cwd() if out_dir is None else out_dir
  if not SAFE_NAME.match(name):
    raise InitError(f'{name!r} cannot name a pipeline: use a letter, then letters, digits, '
                    '"_" or "-"')
  if not data.exists():
    raise InitError(f'--data {data}: no such file or directory')
  schema_path = Path('schemas') / name / 'schema.pbtxt'
  config_path = Path('configs') / f'{name}.yaml'
  for existing in (out_dir / schema_path, out_dir / config_path):
    if existing.exists():
      raise InitError(f'{existing} already exists; pick another name or remove it')
  if data_format == 'csv':
    preflight.check(data, 'csv', delimiter)
  sample = table_baseline.Sample(EVAL_FRACTION)
  try:
    result = profile(_examples(data, data_format, delimiter, sample), label, task, str(data))
  except ProfileError as err:
    raise InitError(str(err)) from None
  roles = {column.name: column.role for column in result.columns.values() if column.role}
  if not roles:
    raise InitError(f'{data}: no column is usable as a model input (each is the label, '
                    'empty, constant, ID-like, a date or free text).')
  classification = result.task == 'classification'
  result.repetition = table_baseline.repetition(sample, result.label.name, sorted(roles),
                                                classification)
  result.peer = table_baseline.fit_peer(sample, result.label.name, roles, result.task)
  schema = _curate(tfdv.infer_schema(result.statistics, infer_feature_shape=True), result)
  written = []
  for path, text in ((schema_path, _schema_text(schema, result, name, data)),
                     (config_path, _config_text(name, data, data_format, delimiter, result,
                                                schema_path))):
    (out_dir / path).parent.mkdir(parents=True, exist_ok=True)
    (out_dir / path).write_text(text, encoding='utf-8')
    written.append(out_dir / path)
  return written, result
