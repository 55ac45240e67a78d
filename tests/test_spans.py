"""Data that keeps arriving: spans read as TFX's ExampleGen resolves them, a window of the
accepted spans, `forge watch` running the pipeline once per new span, and a model card beside
every pushed version. One pipeline root, spans added in order (penguins by year)."""
import csv
import dataclasses
import fcntl
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import jsonschema
import pytest
import yaml

from components.common.evaluation import overall_metrics
from components.model_card import executor as model_card
from pipeline import datasets
from pipeline.summary import artifacts_by_key, open_store, read_latest_run
from tests.conftest import FORGE, PROJECT_DIR, forge_run, write_config

YEARS = (2007, 2008, 2009)


def _penguins_by_year():
  source = datasets.resolve('penguins', None, 'csv', PROJECT_DIR / 'build' / 'test-data')
  with open(source.input_base / source.pattern, newline='') as f:
    rows = list(csv.DictReader(f))
  return {year: [row for row in rows if row['year'] == str(year)] for year in YEARS}


def _add_span(data_dir, span, rows, change=None):
  folder = data_dir / f'year-{span}'
  folder.mkdir(parents=True)
  rows = [dict(row) for row in rows]
  for row in rows:
    row['year'] = str(span)
    if change:
      change(row)
  with open(folder / 'penguins.csv', 'w', newline='') as f:
    writer = csv.DictWriter(f, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)


def _heavier(row):
  if row['body_mass_g']:
    row['body_mass_g'] = str(int(row['body_mass_g']) + 1500)


def _watch(config, *flags, **popen):
  return subprocess.Popen(
      FORGE + ['watch', str(config), '--interval', '1', *flags], cwd=PROJECT_DIR,
      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
      env={**os.environ, 'PYTHONUNBUFFERED': '1'}, **popen)


@dataclasses.dataclass
class Spans:
  config: Path  # the config file
  data_dir: Path  # holds year-<span>/penguins.csv
  runs: list  # the `forge run`s of spans 2007 and 2008
  watch_output: str  # `forge watch --max-runs 2` after span 2009 arrived
  watch_code: int
  by_year: dict  # year -> the penguins rows of that year


@pytest.fixture(scope='module')
def spans(tmp_path_factory):
  """Spans 2007 and 2008 run one by one (window 2), then 2009 added and `forge watch
  --max-runs 2` started. The shipped config's gates (configs/penguin_spans.yaml: accuracy
  min 0.90, max_drop 0.05 against the last blessed model), not the test's own."""
  work = tmp_path_factory.mktemp('spans')
  data_dir = work / 'data'
  config = write_config(
      work / 'spans.yaml', 'penguin_spans', pipeline={'root': str(work / 'root')},
      data={'builtin': None, 'path': str(data_dir / 'year-{SPAN}' / 'penguins.csv'),
            'dataset': 'penguins', 'window': 2},
      outputs={'serving_dir': str(work / 'serving')})
  by_year = _penguins_by_year()
  runs = []
  for year in YEARS[:2]:
    _add_span(data_dir, year, by_year[year])
    runs.append(forge_run(config))
  _add_span(data_dir, YEARS[2], by_year[YEARS[2]])
  watch = _watch(config, '--max-runs', '2')
  output, _ = watch.communicate(timeout=900)
  return Spans(config, data_dir, runs, output, watch.returncode, by_year)


def _config(path):
  from pipeline.config import load_config
  return load_config(path)


def _runs(metadata_path):
  """[(node id -> execution)] of every run, oldest first, and the store."""
  from pipeline.summary import node_id
  store = open_store(metadata_path)
  contexts = sorted(store.get_contexts_by_type('pipeline_run'), key=lambda c: c.id)
  return store, [{node_id(store, e): e for e in store.get_executions_by_context(c.id)}
                 for c in contexts]


def test_each_run_reads_the_newest_span_and_a_window_of_two_trains_on_both(spans):
  first, second = spans.runs
  assert first.returncode == 0, first.output
  assert 'Trained on span 2007; evaluated on span 2007' in first.output
  assert second.returncode == 0, second.output
  assert 'Trained on spans 2007, 2008; evaluated on span 2008' in second.output


def test_watch_runs_once_for_the_new_span_then_finds_nothing_new(spans):
  config, output = spans.config, spans.watch_output
  assert spans.watch_code == 0, output
  assert output.count('running the pipeline') == 1, output
  assert 'new data: span 2009; running the pipeline' in output
  assert 'run 1 ended with exit code 0' in output
  assert 'Trained on spans 2008, 2009; evaluated on span 2009' in output
  polls = [line for line in output.splitlines() if 'no new data' in line]
  assert len(polls) == 1 and 'span 2009 was read before' in polls[0], output
  summary = read_latest_run(_config(config).metadata_path)
  assert summary.span == 2009 and summary.trained_spans == [2008, 2009]
  assert summary.blessed and summary.pushed_to


def test_drift_is_measured_against_the_previous_accepted_span(spans):
  config = spans.config
  store, runs = _runs(_config(config).metadata_path)
  from ml_metadata.proto import metadata_store_pb2
  previous_statistics = artifacts_by_key(store, runs[-2]['StatisticsGen'].id)['statistics'][0]
  gate_inputs = artifacts_by_key(store, runs[-1]['DataValidationGate'].id,
                                 metadata_store_pb2.Event.INPUT)
  assert gate_inputs['baseline_statistics'][0].id == previous_statistics.id
  summary = read_latest_run(_config(config).metadata_path)
  assert summary.drift and all(distance <= threshold
                               for distance, threshold in summary.drift.values())


def test_the_pushed_version_carries_a_valid_card_with_the_evaluators_numbers(spans):
  config_path = spans.config
  config = _config(config_path)
  summary = read_latest_run(config.metadata_path)
  folder = os.path.join(summary.pushed_to, model_card.ASSETS_EXTRA)
  card = json.loads(open(os.path.join(folder, model_card.CARD_JSON)).read())
  model_card.validate(card)
  assert card['model_details']['version']['name'] == os.path.basename(summary.pushed_to)
  data = {d['name']: d for d in card['model_parameters']['data']}
  assert data['train']['spans'] == [2008, 2009] and data['eval']['spans'] == [2009]
  evaluated = overall_metrics(summary.outputs['Evaluator']['evaluation'][0])
  carded = {m['type']: m['value'] for m in card['quantitative_analysis']['performance_metrics']
            if m['slice'] == ''}
  assert carded == pytest.approx(evaluated) and 'sparse_categorical_accuracy' in carded
  assert card['quantitative_analysis']['gates']['blessed'] is True
  # Judged by the shipped gates, the value and the change against the last blessed model.
  shipped = yaml.safe_load((PROJECT_DIR / 'configs' / 'penguin_spans.yaml').read_text())
  gates = card['quantitative_analysis']['gates']['thresholds']['metrics']['accuracy']
  assert {k: v for k, v in gates.items() if v is not None} == shipped['gates']['metrics'][
      'accuracy'] == {'min': 0.90, 'max_drop': 0.05}
  assert card['quantitative_analysis']['baseline']['compared'] is True
  assert card['considerations']['limitations'][0]['description'].startswith('Three species')
  html = open(os.path.join(folder, model_card.CARD_HTML)).read()
  assert '2008, 2009' in html and 'Three species' in html
  assert '<script' not in html
  shown = subprocess.run(FORGE + ['card', str(config_path)], cwd=PROJECT_DIR,
                         capture_output=True, text=True, timeout=120)
  assert shown.stdout.strip() == os.path.join(folder, model_card.CARD_HTML), shown.stderr


def test_a_drifting_span_is_stopped_and_the_watch_goes_on(spans):
  config = spans.config
  served = _versions(config)
  _add_span(spans.data_dir, 2010, spans.by_year[2009], change=_heavier)
  watch = _watch(config, '--max-runs', '2')
  output, _ = watch.communicate(timeout=900)
  assert watch.returncode == 0, output
  assert 'new data: span 2010; running the pipeline' in output
  assert 'run 1 ended with exit code 3' in output and 'Data drift' in output
  assert output.count('running the pipeline') == 1  # not retried: the next poll waits
  assert 'no new data: span 2010 was read before' in output
  assert served == _versions(config)


def _versions(config_path):
  config = _config(config_path)
  model_dir = config.outputs.serving_dir / config.model_name
  return sorted(p.name for p in model_dir.iterdir() if p.name.isdigit())


def test_sigterm_during_a_watched_run_leaves_no_lock_and_no_partial_push(spans):
  config = spans.config
  before = _versions(config)
  _add_span(spans.data_dir, 2011, spans.by_year[2008])
  watch = _watch(config, start_new_session=True)
  seen = []
  for line in watch.stdout:
    seen.append(line)
    if '> Trainer ...' in line:
      watch.send_signal(signal.SIGTERM)
      break
  rest, _ = watch.communicate(timeout=300)
  output = ''.join(seen) + rest
  assert watch.returncode == 130, output
  assert 'SIGTERM: stopping after the running pipeline stops' in output
  assert 'Stopped by a signal' in output
  assert _versions(config) == before
  model_dir = _config(config).outputs.serving_dir / _config(config).model_name
  assert all((model_dir / version / 'saved_model.pb').is_file() for version in before)
  with open(_config(config).pipeline.root / '.forge.lock', 'a+') as lock:
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if a run still holds it
  # The group's processes (the watch, its run, the run's serving-check process) end; a
  # bound, not a measure: they have 60 s to go.
  deadline = time.monotonic() + 60
  while True:
    try:
      os.killpg(watch.pid, 0)
    except ProcessLookupError:
      break
    assert time.monotonic() < deadline, 'processes of the stopped watch are still running'
    time.sleep(0.2)


# --- Without a pipeline run ---

def test_a_card_missing_a_section_or_with_a_wrong_type_is_refused():
  card = json.loads((PROJECT_DIR / 'tests' / 'data' / 'model_card_example.json').read_text())
  model_card.validate(card)
  del card['considerations']
  with pytest.raises(jsonschema.ValidationError, match='considerations'):
    model_card.validate(card)


def test_a_window_needs_a_span_pattern_and_a_pattern_needs_its_folder(tmp_path):
  from pipeline.config import ConfigError, load_config
  (tmp_path / 'rows.csv').write_text('a,b\n1,2\n')
  plain = write_config(tmp_path / 'plain.yaml', 'penguin',
                       data={'builtin': None, 'path': str(tmp_path / 'rows.csv'), 'window': 2})
  with pytest.raises(ConfigError, match=r'data.window 2 needs spans: put \{SPAN\}'):
    load_config(plain)
  missing = write_config(tmp_path / 'missing.yaml', 'penguin', data={
      'builtin': None, 'path': str(tmp_path / 'nowhere' / 'day-{SPAN}' / 'rows.csv')})
  with pytest.raises(ConfigError, match='is not a directory'):
    load_config(missing)
  (tmp_path / 'spans').mkdir()
  empty = write_config(tmp_path / 'empty.yaml', 'penguin', data={
      'builtin': None, 'path': str(tmp_path / 'spans' / 'day-{SPAN}' / 'rows.csv')})
  with pytest.raises(ConfigError, match='no file under .* matches day-{SPAN}/rows.csv yet'):
    load_config(empty)


def test_kfp_cron_takes_five_or_six_fields():
  from kubeflow.runner import cron_expression
  from pipeline.config import ConfigError
  assert cron_expression('0 3 * * *') == '0 0 3 * * *'
  assert cron_expression('30 0 3 * * *') == '30 0 3 * * *'
  with pytest.raises(ConfigError, match='5 fields'):
    cron_expression('daily')
