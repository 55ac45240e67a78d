"""Builds <pipeline root>/report/<run id>/index.html from what ML Metadata recorded of a run:
data, anomalies and schema, changes since the previous run, training curves, evaluation
overall and per slice against the baseline, the TFLite variants, durations and pushes.

TFDV and TFMA draw these in notebooks; nothing renders them to one static page, so the page
is assembled here. It is self-contained: inline CSS, plots as data: URIs, no scripts.
"""
from __future__ import annotations

import datetime
import html
import json
import os
import re
from pathlib import Path
from typing import Dict, Iterable, Optional, Sequence

import tensorflow_model_analysis as tfma

from components.common import statistics
from components.common.statistics import read_schema
from pipeline.config import ForgeConfig
from pipeline.report import data, plots
from pipeline.history import describe_spans
from pipeline.summary import RunSummary, open_store, read_run

REPORT_DIR = 'report'
_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
table { border-collapse: collapse; margin: .6em 0; }
th, td { padding: .25em .7em; border-bottom: 1px solid #eee; text-align: left;
         vertical-align: middle; }
th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.ok { color: #1a7f37; font-weight: bold; } .bad { color: #c62828; font-weight: bold; }
.note { color: #666; } pre { background: #f7f7f7; padding: .6em; white-space: pre-wrap; }
"""


def _e(value) -> str:
  return html.escape(str(value))


def _table(header: Sequence[str], rows: Iterable[Sequence], raw_columns=()) -> str:
  """An HTML table; cells are escaped except in `raw_columns` (already HTML)."""
  def cell(i, value):
    text = str(value) if i in raw_columns else _e(value)
    numeric = isinstance(value, (int, float)) or re.fullmatch(r'[-+]?[\d.,]+%?', str(value))
    return f'<td class="num">{text}</td>' if numeric else f'<td>{text}</td>'
  head = ''.join(f'<th>{_e(h)}</th>' for h in header)
  body = ''.join('<tr>' + ''.join(cell(i, v) for i, v in enumerate(row)) + '</tr>'
                 for row in rows)
  return f'<table><tr>{head}</tr>{body}</table>'


def _section(anchor: str, title: str, body: str) -> str:
  return f'<section id="{anchor}"><h2>{_e(title)}</h2>{body}</section>'


def _first(summary: RunSummary, node: str, key: str) -> Optional[str]:
  uris = summary.outputs.get(node, {}).get(key)
  return uris[0] if uris else None


def _statistics_uri(summary: RunSummary) -> Optional[str]:
  return _first(summary, 'StatisticsGen', 'statistics')


def _schema_uri(summary: RunSummary) -> Optional[str]:
  return _first(summary, 'ImportSchemaGen', 'schema') or _first(summary, 'SchemaGen', 'schema')


def _overlap(summary: RunSummary) -> str:
  """LeakageCheck's measurements: the splits' overlap against a random split's, and the
  data's repetition."""
  from components.leakage_check.executor import SplitOverlap
  uri = _first(summary, 'LeakageCheck', 'leakage')
  if uri is None or not os.path.exists(os.path.join(uri, 'leakage.json')):
    return ''
  overlap = SplitOverlap.read(uri)
  return (f'<p>{_e(overlap.describe())}.</p><p>Eval rows whose features occur in training: '
          f'{overlap.eval_rows_in_train} of {overlap.eval_rows}; a random split of this data '
          f'gives {overlap.expected_in_train:.0f} (excess {overlap.excess:.2%} of the eval '
          'rows).</p>')


def _data_section(splits: Optional[Dict[str, object]], summary: RunSummary) -> str:
  if splits is None:
    return _section('data', 'Data', '<p class="note">No statistics: the run stopped first.</p>')
  body = _table(['split', 'rows'], [(s, d.num_examples) for s, d in splits.items()])
  body += _overlap(summary)
  for split, dataset in splits.items():
    rows = [(f.name, f.type, f'{f.missing:.1%}', f.summary,
             plots.histogram(*f.buckets, alt=f'{f.name} distribution'))
            for f in statistics.features(dataset)]
    body += f'<h3>{_e(split)} split</h3>' + _table(
        ['feature', 'type', 'missing', 'values', 'distribution'], rows, raw_columns={4})
  return _section('data', 'Data', body)


def _schema_section(summary: RunSummary, schema_location: str) -> str:
  from components.validation_gate.executor import describe_anomalies
  anomalies_uri = _first(summary, 'ExampleValidator', 'anomalies')
  problems = (describe_anomalies(anomalies_uri, statistics.split_names(anomalies_uri))
              if anomalies_uri else [])
  body = ('<p class="bad">Anomalies:</p><ul>' + ''.join(f'<li>{_e(p)}</li>' for p in problems)
          + '</ul>' if problems else
          '<p class="ok">No anomalies</p>' if anomalies_uri else
          '<p class="note">ExampleValidator did not run.</p>')
  schema_uri = _schema_uri(summary)
  if schema_uri:
    schema = read_schema(schema_uri)
    described = [(f.name, *statistics.describe_feature(f, schema).values()) for f in schema.feature]
    body += f'<p>Schema in use: {_e(schema_location)}</p>' + _table(
        ['feature', 'type', 'presence', 'domain', 'drift threshold', 'not in'], described)
  return _section('schema', 'Anomalies and schema', body)


def _changes_section(summary: RunSummary, splits: Optional[Dict[str, object]],
                     previous: Optional[RunSummary]) -> str:
  if previous is None or _statistics_uri(previous) is None:
    return _section('changes', 'Changes since the previous run',
                    '<p class="note">No previous run with data to compare.</p>')
  body = f'<p>Previous run: {_e(previous.run_id)}</p>'
  schema_now, schema_before = _schema_uri(summary), _schema_uri(previous)
  if schema_now and schema_before:
    changes = data.schema_changes(read_schema(schema_before), read_schema(schema_now))
    body += ('<h3>Schema</h3><ul>' + ''.join(f'<li>{_e(c)}</li>' for c in changes) + '</ul>'
             if changes else '<p>Schema: unchanged.</p>')
  if splits is not None:
    changed = data.statistics_changes(statistics.split_statistics(_statistics_uri(previous)),
                                      splits)
    body += ('<h3>Statistics</h3>' + _table(['what', 'before', 'now'], changed) if changed
             else '<p>Statistics: unchanged.</p>')
  if summary.drift:
    body += '<h3>Drift against the data accepted last</h3>' + _table(
        ['feature', 'distance', 'threshold', ''],
        [(name, f'{d:.4f}', f'{t:g}', 'above' if d > t else 'ok')
         for name, (d, t) in sorted(summary.drift.items())])
  return _section('changes', 'Changes since the previous run', body)


def _training_section(summary: RunSummary) -> str:
  history = summary.training_history
  if history is None:
    return _section('training', 'Training', '<p class="note">The Trainer did not run.</p>')
  run_dir = _first(summary, 'Trainer', 'model_run')
  epochs = history['epochs']
  final = [(name, f'{values[-1]:.4f}') for name, values in epochs.items()]
  spent = summary.privacy
  private = ('' if not spent else
             f'<p>Differentially private (DP-SGD): epsilon {spent["epsilon"]:.2f} at delta '
             f'{spent["delta"]:.2g}; noise multiplier {spent["noise_multiplier"]:g}, clipping '
             f'norm {spent["l2_norm_clip"]:g}, {spent["steps"]} steps of {spent["batch_size"]} '
             f'over {spent["training_rows"]} rows.</p>')
  spans = (f'<p>Trained on {_e(describe_spans(summary))}; evaluated on span '
           f'{summary.span}.</p>' if summary.has_spans else '')
  body = spans + private + (f'<p>Strategy: {_e(history["strategy"])}; hyperparameters: '
          f'{_e(json.dumps(history["hparams"]))}; {len(next(iter(epochs.values())))} epochs. '
          f'TensorBoard logs: {_e(run_dir)}</p>'
          + plots.curves(epochs, alt='training curves') + _table(['last epoch', 'value'], final))
  return _section('training', 'Training', body)


def _slice_name(slice_key) -> str:
  """'island = Biscoe', or 'all rows' for the overall slice."""
  def value(key):
    kind = key.WhichOneof('kind')
    return key.bytes_value.decode() if kind == 'bytes_value' else getattr(key, kind)
  return ', '.join(f'{key.column} = {value(key)}'
                   for key in slice_key.single_slice_keys) or 'all rows'


def _describe_gate(name: str, gate) -> str:
  limits = ([f'at least {gate.min}'] if gate.min is not None else []) + (
      [f'at most {gate.max_drop} below the last blessed model']
      if gate.max_drop is not None else []) + (
      [f'at most {gate.max}'] if gate.max is not None else []) + (
      [f'at most {gate.max_increase} above the last blessed model']
      if gate.max_increase is not None else [])
  return f'{name}: {" and ".join(limits)}'


def _evaluation_section(summary: RunSummary, config: ForgeConfig) -> str:
  uri = _first(summary, 'Evaluator', 'evaluation')
  if uri is None:
    return _section('evaluation', 'Evaluation',
                    '<p class="note">The Evaluator did not run.</p>')
  per_slice: Dict[str, Dict[str, Dict[str, float]]] = {}
  for metrics in tfma.load_metrics(uri):
    figures = per_slice.setdefault(_slice_name(metrics.slice_key), {})
    for entry in metrics.metric_keys_and_values:
      if not entry.value.HasField('double_value'):
        continue
      role = ('change' if entry.key.is_diff else
              'baseline' if entry.key.model_name == 'baseline' else 'candidate')
      figures.setdefault(entry.key.name, {})[role] = entry.value.double_value.value
  overall = per_slice.pop('all rows', {})
  fmt = lambda value: '' if value is None else f'{value:.4f}'
  body = '<h3>Overall (eval split)</h3>' + _table(
      ['metric', 'candidate', 'last blessed model', 'change'],
      [(name, fmt(v.get('candidate')), fmt(v.get('baseline')),
        '' if v.get('change') is None else f'{v["change"]:+.4f}')
       for name, v in sorted(overall.items())])
  if per_slice:
    names = sorted({name for figures in per_slice.values() for name in figures})
    body += f'<h3>Per slice ({_e(", ".join(config.gates.slices))})</h3>' + _table(
        ['slice', *names], [(slice_name, *(fmt(figures.get(n, {}).get('candidate'))
                                           for n in names))
                            for slice_name, figures in sorted(per_slice.items())])
  pairs = (summary.training_history or {}).get('eval_predictions')
  if pairs and pairs['label']:
    body += (f'<h3>Predictions ({len(pairs["label"])} eval rows)</h3>'
             + plots.predicted_vs_actual(pairs['label'], pairs['prediction'],
                                         alt='predicted vs actual and residuals'))
  body += '<h3>Gates</h3><ul>' + ''.join(
      f'<li>{_e(_describe_gate(name, gate))}</li>'
      for name, gate in config.gates.metrics.items()) + '</ul>'
  if summary.blessed:
    body += '<p class="ok">Blessed: every gate passed.</p>'
  else:
    body += ('<p class="bad">Not blessed. Failed gates:</p><ul>'
             + ''.join(f'<li>{_e(f)}</li>' for f in summary.gate_failures) + '</ul>')
  return _section('evaluation', 'Evaluation', body)


def _distillation_table(distilled: dict) -> str:
  return '<h3>Distillation (the TFLite variants start from the student)</h3>' + _table(
      ['model', 'parameters', 'SavedModel KB', 'eval accuracy'],
      [(role, distilled[role]['parameters'],
        f'{distilled[role]["saved_model_bytes"] / 1024:.0f}',
        f'{distilled[role]["accuracy"]:.4f}') for role in ('teacher', 'student')])


def _optimization_section(summary: RunSummary) -> str:
  report = summary.optimization
  if report is None:
    return _section('optimization', 'Model optimization (TFLite)',
                    '<p class="note">Not enabled for this pipeline (optimization.enabled).</p>')
  from components.model_optimizer import table
  header, *rows = table.rows(report)
  metric = table.quality_metric(report)
  points = {name: (row['gzip_bytes'] / 1024, row[metric])
            for name, row in report['variants'].items()}
  body = (('' if summary.distillation is None else _distillation_table(summary.distillation))
          + _table(header, rows)
          + ''.join(f'<p class="note">{_e(note)}</p>' for note in table.notes(report))
          + f'<p>Selected: {_e(report["selected"] or "none (no variant within budget)")}</p>'
          + (plots.size_vs_accuracy(points, report['savedmodel'][metric],
                                    alt=f'size vs {metric} of the TFLite variants',
                                    metric=metric)
             if points else ''))
  return _section('optimization', 'Model optimization (TFLite)', body)


def _components_section(summary: RunSummary) -> str:
  rows = [(node, summary.states[node], f'{summary.seconds.get(node, 0):.1f}')
          for node in summary.states]
  return _section('components', 'Components',
                  _table(['component', 'state', 'seconds'], rows))


def _pushed_section(summary: RunSummary) -> str:
  rows = [('TF Serving', summary.pushed_to or 'nothing pushed')]
  if summary.optimization is not None:
    rows.append(('mobile (TFLite)', summary.mobile_pushed_to or 'nothing pushed'))
  return _section('pushed', 'Pushed', _table(['where', 'path'], rows))


def render(config: ForgeConfig, summary: RunSummary, previous: Optional[RunSummary],
           error: Optional[str] = None) -> str:
  from pipeline.schema import curated_schema
  schema = curated_schema(config)
  started = datetime.datetime.fromtimestamp(summary.started).strftime('%Y-%m-%d %H:%M:%S')
  verdict = ('<p class="bad">Failed: ' + _e(error) + '</p>' if error else
             '<p class="ok">Blessed</p>' if summary.blessed else
             '<p class="bad">Not blessed</p>')
  statistics_uri = _statistics_uri(summary)
  splits = statistics.split_statistics(statistics_uri) if statistics_uri else None
  sections = [
      _data_section(splits, summary),
      _schema_section(summary, str(schema) if schema else 'inferred by SchemaGen'),
      _changes_section(summary, splits, previous),
      _training_section(summary),
      _evaluation_section(summary, config),
      _optimization_section(summary),
      _components_section(summary),
      _pushed_section(summary),
  ]
  title = f'{config.pipeline.name} run {summary.run_id}'
  return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
          f'<title>{_e(title)}</title><style>{_CSS}</style></head><body>'
          f'<h1>{_e(title)}</h1><p>Started {started}; {_e(config.model.family)} model.</p>'
          f'{verdict}{"".join(sections)}</body></html>')


def report_path(config: ForgeConfig, run_id: str) -> Path:
  safe = re.sub(r'[^0-9A-Za-z_.-]', '-', run_id)
  return config.pipeline.root.resolve() / REPORT_DIR / safe / 'index.html'


def write(config: ForgeConfig, run_id: Optional[str] = None,
          error: Optional[str] = None) -> Path:
  """Writes the report of `run_id` (default: the latest run) and returns its path."""
  store = open_store(config.metadata_path)
  runs = sorted(store.get_contexts_by_type('pipeline_run'), key=lambda context: context.id)
  if not runs:
    raise LookupError(f'{config.metadata_path}: no pipeline run recorded yet')
  index = next((i for i, r in enumerate(runs) if r.name == run_id), len(runs) - 1)
  summary = read_run(store, runs[index])
  previous = next((candidate for candidate in (read_run(store, r) for r in
                                               reversed(runs[:index]))
                   if _statistics_uri(candidate)), None)
  path = report_path(config, summary.run_id)
  path.parent.mkdir(parents=True, exist_ok=True)
  partial = path.with_suffix('.partial')
  partial.write_text(render(config, summary, previous, error), encoding='utf-8')
  partial.replace(path)
  return path
