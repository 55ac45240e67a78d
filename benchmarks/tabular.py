"""The tabular family (forge init --data, then forge run; no Python) against scikit-learn's
HistGradientBoosting and a linear model (LogisticRegression / Ridge) on the same train and
eval rows, read back from the run's ExampleGen splits. Prints accuracy and AUC (binary), or
RMSE and R², and wall time, side by side, per table.

  python benchmarks/tabular.py [--datasets breast_cancer wine diabetes penguins taxi]
  python benchmarks/tabular.py --measure-work DIR --name NAME   # an existing init + run

Target: accuracy within 2 points of HistGradientBoosting, RMSE at most 1.10x its value.
Taxi is also compared with the hand-written taxi family (configs/taxi.yaml) on the same
label (tip above 20% of the fare); its split differs (ExampleGen hashes the rows, which
differ by the label column), so that comparison is approximate.
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
from base import env  # noqa: E402,F401  (before TensorFlow)

import numpy as np  # noqa: E402

from benchmarks.common import PROJECT_DIR, run_measured  # noqa: E402

FORGE = [sys.executable, '-m', 'pipeline.cli']
DATASETS = ('breast_cancer', 'wine', 'diabetes', 'penguins', 'taxi')
LABELS = {'breast_cancer': 'diagnosis', 'wine': 'cultivar', 'diabetes': 'progression',
          'penguins': 'species', 'taxi': 'big_tip'}


def _write(path: Path, header, rows) -> Path:
  with open(path, 'w', newline='') as out:
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
  return path


def write_dataset(name: str, work: Path) -> Path:
  """The table as a user would have it: a CSV with a named label column."""
  from sklearn import datasets as sk
  if name in ('breast_cancer', 'wine', 'diabetes'):
    table = {'breast_cancer': sk.load_breast_cancer, 'wine': sk.load_wine,
             'diabetes': lambda: sk.load_diabetes(scaled=False)}[name]()
    if name == 'diabetes':
      labels = [f'{value:g}' for value in table.target]
    else:
      labels = [table.target_names[value] for value in table.target]
    rows = [[f'{v:g}' for v in features] + [label]
            for features, label in zip(table.data, labels)]
    return _write(work / f'{name}.csv', list(table.feature_names) + [LABELS[name]], rows)
  from pipeline import datasets
  if name == 'penguins':
    source = datasets.resolve('penguins', None, 'csv', work / 'data')
    return source.input_base / source.pattern
  taxi = datasets.resolve('chicago_taxi', None, 'csv', work)
  with open(taxi.input_base / taxi.pattern, newline='') as source:
    reader = csv.DictReader(source)
    header = [key for key in reader.fieldnames if key != 'tips'] + [LABELS[name]]
    rows = []
    for row in reader:
      fare, tips = row['fare'], float(row['tips'] or 0)
      big = fare != '' and tips > float(fare) * 0.2  # the taxi family's label
      rows.append([row[key] for key in header[:-1]] + ['yes' if big else 'no'])
  return _write(work / 'taxi.csv', header, rows)


def _latest_examples_uri(metadata_path: Path) -> str:
  from pipeline.summary import open_store
  store = open_store(metadata_path)
  examples = [a for a in store.get_artifacts_by_type('Examples') if 'ExampleGen' in a.uri]
  return max(examples, key=lambda artifact: artifact.id).uri


def _frame(examples_uri: str, split: str, columns, label: str):
  import pandas as pd
  import tensorflow as tf
  from components.common.examples import examples_artifact, iter_examples
  records = []
  for serialized in iter_examples(examples_artifact(examples_uri), split):
    features = tf.train.Example.FromString(serialized).features.feature
    row = {}
    for name in columns + [label]:
      feature = features.get(name)
      kind = feature.WhichOneof('kind') if feature is not None else None
      values = list(getattr(feature, kind).value) if kind else []
      value = values[0] if values else None
      row[name] = value.decode() if isinstance(value, bytes) else value
    records.append(row)
  return pd.DataFrame.from_records(records)


def _baselines(train, evaluation, roles, label: str, task: str):
  """{model: (metrics, fit seconds)} for HistGradientBoosting and the linear model."""
  from sklearn.compose import ColumnTransformer
  from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
  from sklearn.impute import SimpleImputer
  from sklearn.linear_model import LogisticRegression, Ridge
  from sklearn.pipeline import make_pipeline
  from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler
  numbers = roles['numeric'] + roles['skewed']
  categories = roles['categorical'] + roles['integer_code']
  features = numbers + categories
  ordinal = OrdinalEncoder(handle_unknown='use_encoded_value', unknown_value=np.nan,
                           encoded_missing_value=np.nan)
  tree_input = ColumnTransformer([('numbers', 'passthrough', numbers),
                                  ('categories', ordinal, categories)])
  linear_input = ColumnTransformer(
      [('numbers', make_pipeline(SimpleImputer(strategy='median'), StandardScaler()), numbers),
       ('categories', make_pipeline(SimpleImputer(strategy='most_frequent'),
                                    OneHotEncoder(handle_unknown='ignore')), categories)])
  categorical_mask = [False] * len(numbers) + [True] * len(categories)
  if task == 'regression':
    models = {'HistGradientBoosting': make_pipeline(tree_input, HistGradientBoostingRegressor(
                  categorical_features=categorical_mask, random_state=0)),
              'Ridge': make_pipeline(linear_input, Ridge())}
  else:
    models = {'HistGradientBoosting': make_pipeline(tree_input, HistGradientBoostingClassifier(
                  categorical_features=categorical_mask, random_state=0)),
              'LogisticRegression': make_pipeline(linear_input,
                                                  LogisticRegression(max_iter=2000))}
  x_train = train[features].astype({c: object for c in categories})
  x_eval = evaluation[features].astype({c: object for c in categories})
  results = {}
  for name, model in models.items():
    started = time.monotonic()
    model.fit(x_train, train[label])
    seconds = time.monotonic() - started
    results[name] = (_metrics(model, x_eval, evaluation[label], task), seconds)
  return results


def _metrics(model, x_eval, y_eval, task):
  from sklearn.metrics import accuracy_score, mean_squared_error, r2_score, roc_auc_score
  if task == 'regression':
    predicted = model.predict(x_eval)
    return {'rmse': float(np.sqrt(mean_squared_error(y_eval, predicted))),
            'r2': float(r2_score(y_eval, predicted))}
  figures = {'accuracy': float(accuracy_score(y_eval, model.predict(x_eval)))}
  if len(model.classes_) == 2:
    figures['auc'] = float(roc_auc_score(y_eval, model.predict_proba(x_eval)[:, 1]))
  return figures


def _ours(metrics, evaluation, label, task):
  """The tabular run's TFMA figures, under the baselines' names."""
  if task == 'regression':
    variance = float(np.var(evaluation[label].astype(float)))
    return {'rmse': metrics['root_mean_squared_error'],
            'r2': 1 - metrics['mean_squared_error'] / variance}
  figures = {'accuracy': metrics.get('sparse_categorical_accuracy',
                                     metrics.get('binary_accuracy'))}
  if 'auc' in metrics:
    figures['auc'] = metrics['auc']
  return figures


def measure(work: Path, name: str, run_seconds: float | None) -> dict:
  from pipeline.config import load_config
  from pipeline.summary import read_latest_run
  previous = Path.cwd()
  os.chdir(work)  # the config's relative paths are the user's working directory's
  try:
    config = load_config(Path('configs') / f'{name}.yaml')
    metrics = read_latest_run(config.metadata_path).metrics
    uri = _latest_examples_uri(config.metadata_path)
  finally:
    os.chdir(previous)
  roles = config.model.features.model_dump()
  label, task = config.model.label, config.model.task
  columns = [c for role in roles.values() for c in role]
  train, evaluation = (_frame(uri, split, columns, label) for split in ('train', 'eval'))
  if task == 'regression':
    train[label], evaluation[label] = train[label].astype(float), evaluation[label].astype(float)
  results = {'tabular (forge)': (_ours(metrics, evaluation, label, task), run_seconds)}
  results.update(_baselines(train, evaluation, roles, label, task))
  print(f'\n== {name}: {task}, {len(train)} train / {len(evaluation)} eval rows (the run\'s '
        'ExampleGen splits)')
  for model, (figures, seconds) in results.items():
    timing = f'{seconds:7.1f} s' if seconds is not None else '      - '
    print(f'  {model:<22} ' + '  '.join(f'{key} {value:.4f}' for key, value in figures.items())
          + f'   wall {timing}' + ('  (whole pipeline)' if model.startswith('tabular') else
                                   '  (fit)'))
  ours, boosted = results['tabular (forge)'][0], results['HistGradientBoosting'][0]
  if task == 'regression':
    ratio = ours['rmse'] / boosted['rmse']
    print(f'  target: RMSE <= 1.10x HistGradientBoosting: {ratio:.3f}x '
          f'{"met" if ratio <= 1.10 else "NOT met"}')
  else:
    gap = (boosted['accuracy'] - ours['accuracy']) * 100
    print(f'  target: within 2 accuracy points of HistGradientBoosting: {gap:+.2f} points '
          f'behind, {"met" if gap <= 2 else "NOT met"}')
  return results


def _hand_written_taxi(base: Path) -> None:
  work = base / 'taxi_family'
  measured = run_measured(FORGE + ['run', 'configs/taxi.yaml', '--pipeline-root',
                                   str(work / 'root'), '--serving-dir', str(work / 'serving')])
  line = [l for l in measured.output.splitlines() if l.startswith('Eval metrics:')]
  print(f'  hand-written taxi family (configs/taxi.yaml, its own split): exit '
        f'{measured.returncode}, {measured.seconds:.1f} s, {line[0] if line else "no metrics"}')


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--datasets', nargs='+', choices=DATASETS, default=list(DATASETS))
  parser.add_argument('--work', type=Path, default=PROJECT_DIR / 'build' / 'bench-tabular')
  parser.add_argument('--measure-work', type=Path,
                      help='measure an existing forge init + run in this directory')
  parser.add_argument('--name', help='--measure-work: the pipeline name')
  args = parser.parse_args()
  if args.measure_work:
    measure(args.measure_work, args.name, None)
    return 0
  for name in args.datasets:
    work = args.work / name
    if work.exists():
      import shutil
      shutil.rmtree(work)
    work.mkdir(parents=True)
    data = write_dataset(name, work)
    init = run_measured(FORGE + ['init', name, '--data', str(data), '--label', LABELS[name]],
                        cwd=work, env={'PYTHONPATH': str(PROJECT_DIR)})
    if init.returncode:
      print(f'== {name}: forge init exit {init.returncode}\n{init.output[-2000:]}')
      continue
    run = run_measured(FORGE + ['run', f'configs/{name}.yaml'], cwd=work,
                       env={'PYTHONPATH': str(PROJECT_DIR)})
    print(f'== {name}: forge init {init.seconds:.1f} s, forge run exit {run.returncode} in '
          f'{run.seconds:.1f} s')
    if run.returncode not in (0, 4):
      print(run.output[-3000:])
      continue
    measure(work, name, run.seconds)
    if name == 'taxi':
      _hand_written_taxi(args.work)
  return 0


if __name__ == '__main__':
  sys.exit(main())
