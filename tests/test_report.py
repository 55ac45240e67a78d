"""The run report, `forge runs`, `forge lineage`, `forge tensorboard` and `forge init`,
checked against the end-to-end runs' real numbers."""
from base import env  # noqa: F401  (before TensorFlow)

import html.parser
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from components.common import statistics
from pipeline import cli
from pipeline.summary import read_run, open_store
from tests.conftest import PROJECT_DIR

SECTIONS = ('data', 'schema', 'changes', 'training', 'evaluation', 'optimization',
            'components', 'pushed')
ARTIFACTS = PROJECT_DIR / 'build' / 'test-artifacts'


class _Page(html.parser.HTMLParser):
  """Collects what the assertions need: section ids, attribute URLs, the visible text."""

  def __init__(self):
    super().__init__()
    self.sections, self.urls, self.text, self.images = [], [], [], 0

  def handle_starttag(self, tag, attrs):
    attrs = dict(attrs)
    if tag == 'section':
      self.sections.append(attrs['id'])
    if tag == 'img':
      self.images += 1
    self.urls += [value for key, value in attrs.items() if key in ('src', 'href', 'action')]

  def handle_data(self, text):
    self.text.append(text)


def _report_of(run) -> Path:
  (line,) = [line for line in run.output.splitlines() if line.startswith('Report: ')]
  return Path(line[len('Report: '):].rsplit(' (', 1)[0])


def _parse(path: Path) -> tuple:
  source = path.read_text(encoding='utf-8')
  page = _Page()
  page.feed(source)
  page.close()
  return source, page, ' '.join(page.text)


def _summary(run):
  store = open_store(run.config.metadata_path)
  (context,) = [c for c in store.get_contexts_by_type('pipeline_run')
                if _report_of(run).parent.name == re.sub(r'[^0-9A-Za-z_.-]', '-', c.name)]
  return read_run(store, context)


def test_report_holds_every_section_with_the_runs_numbers(penguin_runs):
  first, _ = penguin_runs
  source, page, text = _parse(_report_of(first))
  assert page.sections == list(SECTIONS)
  summary = _summary(first)
  # Eval accuracy as TFMA computed it, in the overall table; and per island slice.
  accuracy = summary.metrics['sparse_categorical_accuracy']
  assert re.search(r'<td>sparse_categorical_accuracy</td><td class="num">'
                   + re.escape(f'{accuracy:.4f}') + '</td>', source)
  assert 'island = Biscoe' in text and 'island = Dream' in text
  # Rows per split from StatisticsGen; the schema in use; training curves; pushes.
  splits = statistics.split_statistics(summary.outputs['StatisticsGen']['statistics'][0])
  for split, dataset in splits.items():
    assert re.search(f'<td>{split}</td><td class="num">{dataset.num_examples}</td>', source)
  assert 'schemas/penguins/schema.pbtxt' in text and 'No anomalies' in text
  assert 'training curves' in source and 'val_loss' in text
  assert 'Blessed: every gate passed.' in text
  assert summary.pushed_to in text
  assert f'<td>Trainer</td><td>complete</td>' in source
  assert page.images >= 10  # a histogram per feature, the training curves


def test_report_is_self_contained(penguin_runs, taxi_run):
  for run in (penguin_runs[0], taxi_run):
    source, page, _ = _parse(_report_of(run))
    assert page.urls and all(url.startswith('data:image/png;base64,') for url in page.urls)
    outside_images = re.sub(r'data:image/png;base64,[A-Za-z0-9+/=]+', '', source)
    assert not re.search(r'(https?:|ftp:|file:)?//[a-z0-9]', outside_images, re.I)
    assert '<script' not in source and '@import' not in source


def test_second_report_compares_with_the_first_run(penguin_runs):
  first, second = penguin_runs
  _, _, text = _parse(_report_of(second))
  assert f'Previous run: {_summary(first).run_id}' in text
  assert 'Schema: unchanged.' in text and 'Statistics: unchanged.' in text
  assert re.search(r'Tuner\s+cached', text)


def test_report_shows_the_tflite_variants(taxi_run):
  source, _, text = _parse(_report_of(taxi_run))
  report = _summary(taxi_run).optimization
  for variant, row in report['variants'].items():
    assert re.search(f'<td>{variant}</td><td class="num">{row["size_bytes"] / 1024:.1f}</td>',
                     source), variant
  assert 'alt="size vs accuracy of the TFLite variants"' in source
  assert f'Selected: {report["selected"]}' in text
  assert 'payment_type = Cash' in text


def _chromium():
  for name in ('chromium', 'chromium-browser', 'google-chrome'):
    if shutil.which(name):
      return shutil.which(name)
  return None


def test_report_renders_in_headless_chromium(penguin_runs, tmp_path):
  browser = _chromium()
  if browser is None:
    missing = 'no Chromium on this machine (Debian: apt-get install chromium; .ci/run does)'
    if os.environ.get('CI', '').lower() in ('true', '1', 'yes'):
      pytest.fail(f'{missing}: CI must render the report')
    pytest.skip(missing)
  from PIL import Image, ImageStat
  ARTIFACTS.mkdir(parents=True, exist_ok=True)
  screenshot = ARTIFACTS / 'penguin-report.png'
  screenshot.unlink(missing_ok=True)
  subprocess.run(
      [browser, '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
       '--no-first-run', '--disable-background-networking', '--disable-component-update',
       '--disable-sync', f'--user-data-dir={tmp_path / "profile"}', '--hide-scrollbars',
       '--window-size=1280,2400', f'--screenshot={screenshot}',
       _report_of(penguin_runs[0]).as_uri()],
      check=True, capture_output=True, timeout=120)
  image = Image.open(screenshot).convert('L')
  assert image.size == (1280, 2400)
  # Not blank: text and plots make many dark pixels and a wide spread of grey levels.
  dark = sum(image.histogram()[:128]) / (image.size[0] * image.size[1])
  assert dark > 0.01 and ImageStat.Stat(image).stddev[0] > 20


def _forge(capsys, *argv) -> str:
  assert cli.main(list(argv)) == 0
  return capsys.readouterr().out


def test_forge_runs_lists_both_runs(penguin_runs, capsys):
  first, second = penguin_runs
  lines = _forge(capsys, 'runs', str(first.config_path)).splitlines()
  assert len(lines) == 2
  version = _summary(first).pushed_to.rstrip('/').rsplit('/', 1)[1]
  accuracy = _summary(first).metrics['sparse_categorical_accuracy']
  for line, run in zip(lines, (first, second)):
    assert line.startswith(_summary(run).run_id)
    assert 'complete' in line and ' blessed' in line and f'accuracy {accuracy:.4f}' in line
    assert line.endswith(f'pushed {version}')


def test_forge_lineage_traces_a_version_to_its_data(penguin_runs, capsys):
  first, _ = penguin_runs
  summary = _summary(first)
  version = summary.pushed_to.rstrip('/').rsplit('/', 1)[1]
  out = _forge(capsys, 'lineage', str(first.config_path), '--version', version)
  nodes = [line.split(' (execution')[0] for line in out.splitlines()[1:]
           if not line.startswith(' ')]
  assert nodes == ['Pusher', 'Evaluator', 'Trainer', 'Tuner', 'Transform', 'ImportSchemaGen',
                   'CsvExampleGen']
  assert f'input_base={first.config.pipeline.root.resolve() / "data" / "penguins"}' in out
  assert 'schema_file=' + str(PROJECT_DIR / 'schemas' / 'penguins' / 'schema.pbtxt') in out
  assert f'model: {summary.outputs["Trainer"]["model"][0]}' in out
  assert f'pushed_destination={summary.pushed_to}' in out


def test_forge_tensorboard_points_at_the_trainer_logs(penguin_runs, capsys):
  first, _ = penguin_runs
  command = _forge(capsys, 'tensorboard', str(first.config_path)).strip()
  logdir = Path(command.split('--logdir ')[1])
  assert command.split()[0].endswith('tensorboard') and Path(command.split()[0]).is_file()
  assert list(logdir.rglob('events.out.tfevents.*'))


def test_every_command_has_help(capsys):
  for command in ('run', 'compile', 'submit', 'versions', 'rollback', 'predict', 'report',
                  'runs', 'lineage', 'tensorboard', 'init'):
    with pytest.raises(SystemExit) as done:
      cli.main([command, '--help'])
    assert done.value.code == 0
    assert f'usage: forge {command}' in capsys.readouterr().out


def test_forge_init_copies_a_family_that_builds_a_pipeline(tmp_path):
  """In a copy of the project: a code family is a package under models/, so forge init
  --from writes there, and the source tree stays as it is."""
  copy = tmp_path / 'project'
  for folder in ('base', 'pipeline', 'components', 'models', 'kubeflow', 'configs', 'schemas'):
    shutil.copytree(PROJECT_DIR / folder, copy / folder,
                    ignore=shutil.ignore_patterns('__pycache__'))
  name = 'init_check'
  check = (
      'import sys\n'
      'from pipeline import cli\n'
      f'assert cli.main(["init", "{name}", "--from", "penguin"]) == 0\n'
      'from pipeline.config import load_config\n'
      'from pipeline.pipeline import create_pipeline\n'
      'import importlib\n'
      f'config = load_config("configs/{name}.yaml")\n'
      f'assert config.model.family == "{name}" and config.pipeline.name == "{name}"\n'
      f'assert config.kubeflow.data_root.endswith("/data/{name}")\n'
      f'assert "The default pipeline" not in open("configs/{name}.yaml").read()\n'
      'trainer = [c for c in create_pipeline(config).components if c.id == "Trainer"][0]\n'
      f'assert trainer.exec_properties["run_fn"] == "models.{name}.model.run_fn"\n'
      f'assert importlib.import_module("models.{name}.features").FAMILY.name == "{name}"\n'
      'assert cli.main(["init", "' + name + '"]) == cli.EXIT_CONFIG  # exists already\n'
      f'assert importlib.import_module("models").__file__.startswith("{copy}")\n')
  completed = subprocess.run([sys.executable, '-c', check], cwd=copy, capture_output=True,
                             text=True, timeout=300,
                             env={**os.environ, 'PYTHONPATH': str(copy)})
  assert completed.returncode == 0, completed.stdout + completed.stderr
  assert 'already exists' in completed.stderr
  assert (copy / 'models' / name / 'features.py').is_file()
  assert not (PROJECT_DIR / 'models' / name).exists()
  assert not (PROJECT_DIR / 'configs' / f'{name}.yaml').exists()


def test_run_help_lists_each_flag_once(capsys):
  with pytest.raises(SystemExit):
    cli.main(['run', '--help'])
  out = capsys.readouterr().out
  assert '--epochs VALUE, --epochs VALUE' not in out
  assert '--pipeline-name VALUE, --pipeline_name VALUE' in out
