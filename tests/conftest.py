"""Shared fixtures. The end-to-end runs are session-scoped: one pipeline run serves many
assertions, so `make test` stays within minutes on a 2-core machine."""
from base import env  # noqa: F401  (before TensorFlow)

import csv
import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

EXIT_OK = 0

PROJECT_DIR = Path(__file__).resolve().parent.parent
FORGE = [sys.executable, '-m', 'pipeline.cli']


# Session fixtures that run a pipeline; a test using one (even through another fixture) is e2e.
PIPELINE_FIXTURES = {'penguin_runs', 'taxi_run', 'text_run', 'digits_runs', 'wine', 'diabetes'}
# Calls that start a process (the CLI, make, lint-imports, a benchmark), a pipeline run or a
# Kubeflow compile (the whole DAG, most of a minute). Looked for in the test, its fixtures and
# the helpers of its module they call, however deep.
_PROCESS_CALLS = ('forge_run(', 'forge_in(', 'FORGE', '_run(', 'getfixturevalue(',
                  'subprocess.', 'Popen(', 'compile_pipeline(')


def _helpers(module) -> dict:
  """name -> source of the module's own top-level functions."""
  import inspect
  return {name: inspect.getsource(value) for name, value in vars(module).items()
          if inspect.isfunction(value) and value.__module__ == module.__name__}


def _reachable_source(source: str, helpers: dict) -> str:
  """`source` and the source of every module helper it calls, transitively."""
  import re
  seen, pending, texts = set(), [source], []
  while pending:
    text = pending.pop()
    texts.append(text)
    for name in set(re.findall(r'\b([A-Za-z_]\w*)\(', text)) & set(helpers) - seen:
      seen.add(name)
      pending.append(helpers[name])
  return ''.join(texts)


def pytest_collection_modifyitems(items):
  """Marks end-to-end tests `e2e` (a pipeline, a process or a Kubeflow compile), so
  `pytest -m 'not e2e'` runs the unit tests alone, in-process."""
  import inspect
  helpers_of = {}
  for item in items:
    uses_pipeline = PIPELINE_FIXTURES & set(getattr(item, 'fixturenames', ()))
    function = getattr(item, 'function', None)
    source = inspect.getsource(function) if function else ''
    fixture_sources = ''.join(
        inspect.getsource(definition.func)
        for name in getattr(item, 'fixturenames', ())
        for definition in item._fixtureinfo.name2fixturedefs.get(name, ())  # pylint: disable=protected-access
        if definition.baseid)  # the project's own fixtures, not pytest's
    module = getattr(item, 'module', None)
    if module is not None and module.__name__ not in helpers_of:
      helpers_of[module.__name__] = _helpers(module)
    reachable = _reachable_source(source + fixture_sources,
                                  helpers_of.get(getattr(module, '__name__', None), {}))
    if uses_pipeline or any(call in reachable for call in _PROCESS_CALLS):
      item.add_marker(pytest.mark.e2e)


@dataclasses.dataclass
class CliRun:
  returncode: int
  output: str
  config: object  # ForgeConfig
  config_path: Path


def across_classes(rows, label_of, per_class: int):
  """Up to `per_class` rows of each class, in file order. The bundled tables (penguins,
  wine) are sorted by class: their first rows are all one class, which a model that always
  answers it gets right."""
  taken = {}
  for row in rows:
    bucket = taken.setdefault(label_of(row), [])
    if len(bucket) < per_class:
      bucket.append(row)
  return [row for bucket in taken.values() for row in bucket]


def write_config(path: Path, base: str, **sections) -> Path:
  """A copy of configs/<base>.yaml with sections updated (one level deep)."""
  raw = yaml.safe_load((PROJECT_DIR / 'configs' / f'{base}.yaml').read_text())
  for section, values in sections.items():
    raw.setdefault(section, {}).update(values)
  path.write_text(yaml.safe_dump(raw))
  return path


def forge_run(config_path: Path, *flags: str, timeout: int = 900) -> CliRun:
  """Runs `forge run` as a user would, in a fresh process."""
  from pipeline.config import load_config
  completed = subprocess.run(
      FORGE + ['run', str(config_path), *flags], cwd=PROJECT_DIR, capture_output=True,
      text=True, timeout=timeout, env={**os.environ, 'PYTHONUNBUFFERED': '1'})
  return CliRun(completed.returncode, completed.stdout + completed.stderr,
                load_config(config_path), config_path)


@pytest.fixture(scope='session')
def penguin_runs(tmp_path_factory):
  """The default penguin pipeline, with a short Tuner stage and two TFLite variants, run
  twice with the same inputs: (first, second). Fixtures run, tests judge: test_penguin_e2e
  checks both exits."""
  work = tmp_path_factory.mktemp('penguin')
  config = write_config(work / 'penguin.yaml', 'penguin',
                        pipeline={'root': str(work / 'root')},
                        tuning={'enabled': True, 'trials': 2, 'train_steps': 60},
                        optimization={'enabled': True, 'variants': ['float32', 'int8']},
                        outputs={'serving_dir': str(work / 'serving')})
  first = forge_run(config)
  second = forge_run(config)
  return first, second


@pytest.fixture(scope='session')
def taxi_run(tmp_path_factory):
  """TFX's reference workload through `forge run`, once, with the mobile stage on."""
  work = tmp_path_factory.mktemp('taxi')
  config = write_config(work / 'taxi.yaml', 'taxi', pipeline={'root': str(work / 'root')},
                        outputs={'serving_dir': str(work / 'serving')},
                        optimization={'enabled': True})
  return forge_run(config)


@pytest.fixture(scope='session')
def text_run(tmp_path_factory):
  """The text family (Transformer encoder) on reviews the test makes (tests/text_corpus.py
  says why not the IMDB sample's 100), once, distilled into a smaller student, with the
  mobile stage on: the student as a float32 .tflite on token ids, with the tokenizer in its
  metadata."""
  from tests.text_corpus import write_reviews
  work = tmp_path_factory.mktemp('text')
  reviews = write_reviews(work / 'reviews.csv')
  config = write_config(work / 'text.yaml', 'text', pipeline={'root': str(work / 'root')},
                        data={'builtin': None, 'path': str(reviews)},
                        outputs={'serving_dir': str(work / 'serving')},
                        distillation={'enabled': True, 'steps': 100,
                                      'student_hparams': {'embed_dim': 16, 'ff_dim': 32}},
                        optimization={'enabled': True, 'variants': ['float32']})
  return forge_run(config)


def pushed_version_dirs(run: CliRun):
  return sorted(p for p in (run.config.outputs.serving_dir / run.config.model_name).iterdir()
                if p.name.isdigit())


@dataclasses.dataclass
class DigitsRuns:
  first: CliRun  # every TFLite variant, default budgets
  impossible_budget: CliRun  # the same pipeline again with budgets no variant can meet


@pytest.fixture(scope='session')
def digits_runs(tmp_path_factory):
  """The mobile showcase: digits with every TFLite variant; then the same pipeline root with
  impossible budgets (only ModelOptimizer and MobilePusher run again), building one float
  and one full-integer variant (no pruning or QAT fine-tuning: the budgets are the test)."""
  work = tmp_path_factory.mktemp('digits')
  paths = {'pipeline': {'root': str(work / 'root')},
           'outputs': {'serving_dir': str(work / 'serving'), 'mobile_dir': str(work / 'mobile')}}
  config = write_config(work / 'digits.yaml', 'digits', **paths)
  first = forge_run(config)
  impossible = write_config(work / 'impossible.yaml', 'digits', **paths,
                            optimization={'accuracy_budget': 0.0, 'size_budget_kb': 1,
                                          'variants': ['float32', 'int8']})
  return DigitsRuns(first, forge_run(impossible))


# --- Your own table: forge init --data, then forge run, from a clean working directory ---

def write_csv(path: Path, header, rows):
  with open(path, 'w', newline='') as out:
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
  return path


def forge_in(cwd: Path, *args, timeout=900):
  """`forge` run in `cwd`, as a user in their own project directory would."""
  completed = subprocess.run(FORGE + list(args), cwd=cwd, capture_output=True, text=True,
                             timeout=timeout, env={**os.environ, 'PYTHONPATH': str(PROJECT_DIR)})
  return completed.returncode, completed.stdout + completed.stderr


def _init_and_run(work: Path, name: str, data: Path, label: str, mobile: bool = True):
  code, init_out = forge_in(work, 'init', name, '--data', str(data), '--label', label)
  config_path = work / 'configs' / f'{name}.yaml'
  if code != EXIT_OK:  # the tests report it, with forge init's output
    return init_out, code, init_out, config_path
  if mobile:
    config_path.write_text(config_path.read_text().replace(
        '  enabled: false          # true: pruned', '  enabled: true          # true: pruned'))
  code, run_out = forge_in(work, 'run', str(config_path))
  return init_out, code, run_out, config_path


@pytest.fixture(scope='session')
def wine(tmp_path_factory):
  """scikit-learn's wine table with its classes as strings, under its own column names
  (one holds a '/'), through forge init and forge run with the mobile stage."""
  from sklearn.datasets import load_wine
  work = tmp_path_factory.mktemp('wine')
  wine_data = load_wine()
  rows = [[f'{v:g}' for v in features] + [wine_data.target_names[target]]
          for features, target in zip(wine_data.data, wine_data.target)]
  data = write_csv(work / 'wine.csv', list(wine_data.feature_names) + ['cultivar'], rows)
  return (work, data, *_init_and_run(work, 'wine', data, 'cultivar'))


@pytest.fixture(scope='session')
def diabetes(tmp_path_factory):
  """scikit-learn's diabetes table (unscaled), a regression, with the mobile stage."""
  from sklearn.datasets import load_diabetes
  work = tmp_path_factory.mktemp('diabetes')
  table = load_diabetes(scaled=False)
  rows = [[f'{v:g}' for v in features] + [f'{target:g}']
          for features, target in zip(table.data, table.target)]
  data = write_csv(work / 'diabetes.csv', list(table.feature_names) + ['progression'], rows)
  return (work, data, *_init_and_run(work, 'diabetes', data, 'progression'))


