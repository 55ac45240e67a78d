"""The `forge skew` page for one serving window, in the run report's style:
<pipeline root>/report/skew/<time checked>/index.html, self-contained (plots inline)."""
from __future__ import annotations

from pathlib import Path
from typing import Dict

import jinja2
from markupsafe import Markup

from components.common import statistics
from pipeline.report import plots
from pipeline.report.page import _CSS, REPORT_DIR
from pipeline.skew import SkewResult

HERE = Path(__file__).resolve().parent
PAGE = 'index.html'


def _by_column(dataset) -> Dict[str, statistics.FeatureStats]:
  return {feature.name: feature for feature in statistics.features(dataset)}


def _plot(stats, alt: str) -> Markup:
  if stats is None or not stats.buckets[1]:
    return Markup('')
  return Markup(plots.histogram(*stats.buckets, alt=alt))  # our own <img>, base64 data


def page_data(result: SkewResult, model: str) -> dict:
  training, serving = _by_column(result.training_statistics), _by_column(result.serving_statistics)
  rows = []
  for m in result.measurements:
    train, serve = training.get(m.column), serving.get(m.column)
    rows.append({'column': m.column, 'measure': m.measure, 'distance': m.distance,
                 'threshold': m.threshold, 'skewed': m.skewed,
                 'training_plot': _plot(train, f'{m.column} in training'),
                 'serving_plot': _plot(serve, f'{m.column} in requests'),
                 'training_summary': train.summary if train else '',
                 'serving_summary': serve.summary if serve else 'absent'})
  return {'model': model, 'checked_at': result.checked_at, 'requests': result.requests,
          'requests_path': result.requests_path, 'statistics_uri': result.statistics_uri,
          'schema_uri': result.schema_uri, 'ok': result.ok, 'skewed': result.skewed,
          'anomalies': result.anomalies, 'rows': rows,
          'thresholds_from_drift': result.thresholds_from_drift, 'css': Markup(_CSS)}


def write(result: SkewResult, pipeline_root: Path, model: str) -> Path:
  environment = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE)),
                                   autoescape=True, undefined=jinja2.StrictUndefined)
  html = environment.get_template('skew.html.j2').render(page=page_data(result, model))
  path = pipeline_root / REPORT_DIR / 'skew' / result.checked_at / PAGE
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text(html, encoding='utf-8')
  return path
