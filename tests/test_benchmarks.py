"""The benchmarks are not tests (they take minutes and print figures), but each runs here
once on a tiny input so that none of them silently rots."""
import json
import subprocess
import sys

from tests.conftest import PROJECT_DIR


def _run(*args, timeout=900):
  completed = subprocess.run([sys.executable, *args], cwd=PROJECT_DIR, capture_output=True,
                             text=True, timeout=timeout)
  assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-4000:]
  return completed.stdout


def test_e2e_benchmark_runs_ours_and_the_reference():
  # --smoke: 20 training steps each and the reference's Beam in_memory (TFX's example as
  # shipped took about 5 minutes here, for a check of the script's plumbing).
  output = _run('benchmarks/e2e.py', '--runs', '1', '--rows', '400', '--smoke')
  assert 'ours 1' in output and 'reference 1' in output
  assert 'median ratio ours/reference: wall time' in output
  assert 'Transform' in output.split('our per-component durations')[1]


def test_scale_benchmark_reports_each_component():
  # One factor, replicated: a second pipeline run would add two minutes and test nothing more.
  output = _run('benchmarks/scale.py', '--factors', '2', '--base-rows', '200',
                '--train-steps', '20')
  assert '2x: 400 rows' in output
  assert 'rows/s' in output and 'Trainer input pipeline' in output


def test_serving_benchmark_prints_latencies(penguin_runs, tmp_path):
  config = tmp_path / 'penguin.json'
  config.write_text(json.dumps(penguin_runs[0].config.model_dump(mode='json', by_alias=True)))
  output = _run('benchmarks/serving.py', '--config', str(config), '--runs', '5')
  assert 'batch   1: p50' in output and 'batch  64: p50' in output


def test_compression_benchmark_prints_the_table_and_targets(taxi_run):
  """On the taxi test run's six variants (a digits run of its own took minutes)."""
  output = _run('benchmarks/compression.py', '--measure-root',
                str(taxi_run.config.pipeline.root))
  assert f'== {taxi_run.config.pipeline.root}: the latest run' in output
  assert 'pruned_qat_int8' in output and 'int8 file size, float32/int8' in output
  assert 'not measurable' not in output


def test_compression_benchmark_configures_a_run_of_its_own(tmp_path):
  """What the script runs when it runs a pipeline: the shipped config with the stage on."""
  import argparse
  import yaml
  sys.path.insert(0, str(PROJECT_DIR / 'benchmarks'))
  from benchmarks.compression import _config
  args = argparse.Namespace(prune_steps=50, qat_steps=20, train_steps=60)
  raw = yaml.safe_load(_config('digits', tmp_path, args).read_text())
  assert raw['optimization']['enabled'] is True and raw['training']['train_steps'] == 60
  assert raw['optimization']['prune_steps'] == 50 and raw['optimization']['qat_steps'] == 20
  assert raw['pipeline']['root'] == str(tmp_path / 'root')


def test_text_benchmark_measures_teacher_student_and_int8(text_run, tmp_path):
  """On the text test run's models (running the pipeline again would add minutes)."""
  output = _run('benchmarks/text.py', '--measure-root', str(text_run.config.pipeline.root))
  for model in ('Transformer (teacher)', 'distilled student', 'int8 student (TFLite)'):
    assert model in output
  assert 'target: Transformer accuracy >= 0.97' in output


def test_text_benchmark_reads_the_sms_spam_format(tmp_path):
  sys.path.insert(0, str(PROJECT_DIR))
  from benchmarks.text import write_csv
  corpus = tmp_path / 'SMSSpamCollection'
  corpus.write_text('Label\tSMS\nham\tSee you at 8, ok?\nspam\tWIN a prize, text 8000 now\n')
  assert write_csv(corpus, tmp_path / 'out.csv', None) == 2
  assert (tmp_path / 'out.csv').read_text().splitlines() == [
      'text,label', '"See you at 8, ok?",0', '"WIN a prize, text 8000 now",1']


def test_tabular_benchmark_compares_with_scikit_learn(wine):
  """On the tabular test run's wine pipeline (running it again would add a minute)."""
  work = wine[0]
  output = _run('benchmarks/tabular.py', '--measure-work', str(work), '--name', 'wine')
  for model in ('tabular (forge)', 'HistGradientBoosting', 'LogisticRegression'):
    assert model in output
  assert 'target: within 2 accuracy points of HistGradientBoosting' in output


def test_tabular_benchmark_discrete_tables_and_their_repeats(tmp_path):
  """The discrete tables are written from the counts and the statsmodels wheel (no pipeline
  run: the comparison itself is the wine test's), and their repeat figures are the known ones."""
  import pandas as pd
  sys.path.insert(0, str(PROJECT_DIR))
  from benchmarks.tabular import LABELS, repeat_profile, write_discrete
  expected = {'titanic': (2201, 14, 0.7905), 'fair': (6366, 4829, 0.9373),
              'randhie': (20190, 2760, None)}
  for name, (rows, distinct, floor) in expected.items():
    frame = pd.read_csv(write_discrete(name, tmp_path), dtype=str, keep_default_na=False)
    features = [column for column in frame.columns if column != LABELS[name]]
    profile = repeat_profile(frame, features, LABELS[name],
                             'regression' if floor is None else 'classification')
    assert (profile['rows'], profile['distinct']) == (rows, distinct), name
    if floor is not None:
      assert round(profile['floor_accuracy'], 4) == floor, name
  assert round(profile['floor_rmse'], 2) == 3.44 and profile['repeated'] == 20089
