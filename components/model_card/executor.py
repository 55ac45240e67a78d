"""Writes the model card of a pushed version: what the model is, the data it was trained on
(spans, rows, schema, statistics), how it measured (overall, per slice, the gates, the
baseline comparison, TFLite variants), what it is for and where it fails (the config's
model_card section), and where each piece came from.

Google's Model Card Toolkit cannot be installed beside TFX 1.16 (it pins an older TFMA), so
the card is written here, with the field names of the toolkit's schema, and validated against
model_card.schema.json (jsonschema) before it is written beside the model:
<version dir>/assets.extra/model_card.{json,html}, in the mobile push too.
"""
from __future__ import annotations

import datetime
import json
import posixpath
from pathlib import Path
from typing import Any, Dict, List, Optional

import jinja2
import jsonschema
import tensorflow as tf
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils

from base.settings import ModelCardSection, from_exec_property
from components.common import evaluation, statistics
from components.common.artifacts import OPTIMIZATION_REPORT_FILE
from components.common.staging import is_blessed
from components.common.statistics import read_schema
from models.common.family import HISTORY_FILE

HERE = Path(__file__).resolve().parent
SCHEMA = json.loads((HERE / 'model_card.schema.json').read_text(encoding='utf-8'))
CARD_JSON = 'model_card.json'
CARD_HTML = 'model_card.html'
ASSETS_EXTRA = 'assets.extra'  # TF Serving leaves this folder of a version alone


def validate(card: Dict[str, Any]) -> None:
  """Raises jsonschema.ValidationError naming the field that does not fit the schema."""
  jsonschema.Draft202012Validator(SCHEMA).validate(card)


def render_html(card: Dict[str, Any]) -> str:
  environment = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE)),
                                   autoescape=True, undefined=jinja2.StrictUndefined)
  return environment.get_template('model_card.html.j2').render(card=card)


def _spans(artifacts: List[types.Artifact]) -> List[int]:
  return sorted({a.get_int_custom_property('span') for a in artifacts})


def _read_json(folder: str, name: str) -> Optional[dict]:
  path = posixpath.join(folder, name)
  if not tf.io.gfile.exists(path):
    return None
  with tf.io.gfile.GFile(path) as f:
    return json.load(f)


def _variants(report: Optional[dict]) -> List[Dict[str, Any]]:
  if not report:
    return []
  rows = []
  for name, row in report['variants'].items():
    quality = (f'rmse {row["rmse"]:.4g}' if 'rmse' in row else f'accuracy {row["accuracy"]:.4f}')
    rows.append({'name': name, 'size_bytes': row['size_bytes'], 'gzip_bytes': row['gzip_bytes'],
                 'latency_ms_p50': row['latency_ms_p50'], 'quality': quality,
                 'selected': name == report.get('selected')})
  return rows


def _considerations(section: ModelCardSection) -> Dict[str, Any]:
  described = lambda items: [{'description': item} for item in items]
  return {'users': described(section.users), 'use_cases': described(section.use_cases),
          'limitations': described(section.limitations),
          'tradeoffs': described(section.tradeoffs),
          'ethical_considerations': [item.model_dump() for item in
                                     section.ethical_considerations]}


def build(section: ModelCardSection, beside: Dict[str, Any], inputs: Dict[str, Any],
          run_id: str) -> Dict[str, Any]:
  """The card as JSON-ready data; `inputs` holds the artifacts (see component.py)."""
  pushed = inputs['pushed_model']
  version = pushed.get_string_custom_property('pushed_version')
  history = _read_json(inputs['model_run'].uri, HISTORY_FILE) or {}
  evaluation_uri = inputs['model_evaluation'].uri
  metrics = evaluation.read_metrics(evaluation_uri)
  splits = statistics.split_statistics(inputs['statistics'].uri)
  schema = read_schema(inputs['schema'].uri)
  examples = inputs['examples']
  trained_on = inputs['training_examples']
  mobile = inputs.get('pushed_mobile_model')
  mobile_pushed = mobile is not None and mobile.get_int_custom_property('pushed') == 1
  report = (_read_json(inputs['optimization_report'].uri, OPTIMIZATION_REPORT_FILE)
            if inputs.get('optimization_report') is not None else None)
  epochs = history.get('epochs', {}).get('loss', [])
  details = {
      'name': beside['model_name'],
      'overview': section.overview or (f'A {beside["task"]} model of the {beside["family"]} '
                                       'family, trained and pushed by tfx-forge.'),
      'version': {'name': version, 'date': datetime.datetime.now(datetime.timezone.utc)
                  .strftime('%Y-%m-%d %H:%M:%S UTC')},
      'owners': [owner.model_dump(exclude_none=True) for owner in section.owners],
      'references': list(section.references),
      'family': beside['family'], 'task': beside['task'], 'classes': beside['classes'],
      'path': pushed.get_string_custom_property('pushed_destination'),
  }
  if mobile_pushed:
    details['mobile_path'] = mobile.get_string_custom_property('pushed_destination')
  data = [{'name': split, 'rows': int(dataset.num_examples),
           'spans': _spans([examples]) if split == 'eval' else _spans(trained_on),
           'description': (f'ExampleGen {split} split of ' + beside['data_location'])}
          for split, dataset in sorted(splits.items())]
  for dataset in data:  # the Trainer read every span of the window, the Evaluator this one
    if dataset['name'] == 'train' and len(trained_on) > 1:
      dataset['description'] += f' and {len(trained_on) - 1} earlier accepted span(s)'
  return {
      'schema_version': '0.0.2',
      'model_details': details,
      'model_parameters': {
          'model_architecture': f'{beside["family"]} body under a shared {beside["task"]} '
                                'head (tf.keras), exported with serving_default, serving_raw, '
                                'transform_features and mobile signatures',
          'input_format': 'serialized tf.Example (serving_default) or raw feature tensors '
                          '(serving_raw)',
          'output_format': 'probabilities' if beside['task'] == 'classification'
                           else 'prediction (label units)',
          'data': data,
          'hyperparameters': history.get('hparams', {}),
          'training': {'strategy': history.get('strategy', 'unknown'),
                       'replicas': history.get('replicas', 1), 'epochs_run': len(epochs),
                       'train_steps': beside.get('train_steps'),
                       'privacy': history.get('privacy')},
          'schema': [{'name': feature.name, **{key: value for key, value in
                      statistics.describe_feature(feature, schema).items()
                      if key in ('type', 'presence', 'domain')}}
                     for feature in schema.feature],
          'statistics': [{'name': feature.name, 'type': feature.type,
                          'missing': feature.missing, 'summary': feature.summary}
                         for feature in statistics.features(splits['train'])]
                        if 'train' in splits else [],
      },
      'quantitative_analysis': {
          'performance_metrics': [{'type': name, 'value': value, 'slice': slice_name}
                                  for slice_name, values in sorted(metrics.by_slice.items())
                                  for name, value in sorted(values.items())],
          'gates': {'blessed': is_blessed(inputs['model_blessing']),
                    'thresholds': beside['gates'],
                    'failures': evaluation.gate_failures(evaluation_uri)},
          'baseline': {'compared': bool(metrics.differences),
                       'differences': metrics.differences},
          'tflite_variants': _variants(report),
      },
      'considerations': _considerations(section),
      'lineage': {
          'pipeline': beside['pipeline_name'], 'run_id': run_id,
          'artifacts': {
              'examples': examples.uri,
              **{f'training_examples_span_{a.get_int_custom_property("span")}': a.uri
                 for a in trained_on},
              'statistics': inputs['statistics'].uri, 'schema': inputs['schema'].uri,
              'model': inputs['model'].uri, 'model_evaluation': evaluation_uri,
          },
      },
  }


def write(card: Dict[str, Any], folder: str) -> None:
  """model_card.json and model_card.html in `folder`."""
  tf.io.gfile.makedirs(folder)
  with tf.io.gfile.GFile(posixpath.join(folder, CARD_JSON), 'w') as out:
    json.dump(card, out, indent=1)
  with tf.io.gfile.GFile(posixpath.join(folder, CARD_HTML), 'w') as out:
    out.write(render_html(card))


class Executor(base_executor.BaseExecutor):

  def Do(self, input_dict: Dict[str, List[types.Artifact]],
         output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]) -> None:
    single = artifact_utils.get_single_instance
    card_artifact = single(output_dict['model_card'])
    pushed = single(input_dict['pushed_model'])
    if pushed.get_int_custom_property('pushed') != 1:  # not blessed, or refused: no card
      card_artifact.set_int_custom_property('written', 0)
      return
    section, beside = from_exec_property(exec_properties['settings'], ModelCardSection)
    inputs = {key: (artifacts if key == 'training_examples' else artifacts[0])
              for key, artifacts in input_dict.items() if artifacts}
    card = build(section, beside, inputs, self._context.pipeline_run_id or '')
    validate(card)
    write(card, card_artifact.uri)
    destinations = [pushed.get_string_custom_property('pushed_destination')]
    if card['model_details'].get('mobile_path'):
      destinations.append(card['model_details']['mobile_path'])
    for destination in destinations:
      write(card, posixpath.join(destination, ASSETS_EXTRA))
    card_artifact.set_int_custom_property('written', 1)
    card_artifact.set_string_custom_property('pushed_version',
                                             card['model_details']['version']['name'])
