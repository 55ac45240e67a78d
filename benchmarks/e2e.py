"""Our taxi pipeline against TFX's own reference example, side by side.

Runs, alternating, `forge run configs/taxi.yaml` and TFX's `taxi_pipeline_native_keras.py`
(taken from the installed tfx wheel, run as shipped in a temporary HOME) on the same CSV,
each in a fresh root, N times. Prints per run: wall time, peak RSS of the largest process
and of the whole process tree, eval accuracy (and AUC), pushed model size; then the median
ratios ours/reference, and our per-component durations.

  .venv/bin/python benchmarks/e2e.py [--runs 3] [--rows N] [--smoke]

--smoke (the test suite's check that the script still works, not a measurement): both
pipelines train 20 steps and the reference's Beam stages run in_memory.
"""
from __future__ import annotations

import argparse
import importlib.util
import re
import shutil
import sys
import tempfile
from pathlib import Path

from common import PROJECT_DIR, directory_kb, median, run_measured

sys.path.insert(0, str(PROJECT_DIR))
from base import env  # noqa: E402,F401  (before TensorFlow)
import logging  # noqa: E402

logging.getLogger('tensorflow').setLevel(logging.ERROR)
from pipeline.summary import open_store, read_latest_run  # noqa: E402

REFERENCE_NAME = 'chicago_taxi_native_keras'
NOT_BLESSED = 4  # forge's exit code: it ran and was measured, only its gates failed


def _tfx_examples() -> Path:
  return Path(importlib.util.find_spec('tfx').origin).parent / 'examples' / 'chicago_taxi_pipeline'


def taxi_csv(work: Path, rows: int | None) -> Path:
  """The taxi CSV from the tfx wheel, or its first `rows` rows."""
  source = _tfx_examples() / 'data' / 'simple' / 'data.csv'
  if rows is None:
    return source
  lines = source.read_text().splitlines()[:rows + 1]
  target = work / 'data.csv'
  target.write_text('\n'.join(lines) + '\n')
  return target


SMOKE_STEPS = 20


def run_ours(work: Path, csv: Path, extra_flags=()) -> dict:
  root, serving = work / 'root', work / 'serving'
  measured = run_measured([sys.executable, '-m', 'pipeline.cli', 'run', 'configs/taxi.yaml',
                           '--pipeline-root', str(root), '--serving-dir', str(serving),
                           '--data-path', str(csv), *extra_flags])
  result = {'measured': measured, 'durations': {
      name: float(seconds) for name, seconds in
      re.findall(r'^\s+(\S+) done in ([\d.]+) s', measured.output, re.M)}}
  if measured.returncode in (0, NOT_BLESSED):
    metrics = read_latest_run(root / 'metadata.sqlite').metrics
    result['accuracy'] = metrics.get('binary_accuracy')
    result['auc'] = metrics.get('auc')
    pushed = list((serving / 'taxi').glob('[0-9]*'))
    result['model_kb'] = directory_kb(pushed[0]) if pushed else None
  return result


def run_reference(work: Path, csv: Path, smoke: bool = False) -> dict:
  """TFX's example as shipped: it reads ~/taxi/data/simple and writes under ~/tfx."""
  home = work / 'home'
  taxi = home / 'taxi'
  (taxi / 'data' / 'simple').mkdir(parents=True)
  shutil.copy(csv, taxi / 'data' / 'simple' / 'data.csv')
  for name in ('taxi_pipeline_native_keras.py', 'taxi_utils_native_keras.py'):
    shutil.copy(_tfx_examples() / name, taxi / name)
  if smoke:
    script = taxi / 'taxi_pipeline_native_keras.py'
    text = script.read_text()
    for shipped, short in (('num_steps=1000', f'num_steps={SMOKE_STEPS}'),
                           ('num_steps=150', f'num_steps={SMOKE_STEPS}'),
                           ("'--direct_running_mode=multi_processing'",
                            "'--direct_running_mode=in_memory'")):
      assert shipped in text, f'{shipped} is no longer in the reference example'
      text = text.replace(shipped, short)
    script.write_text(text)
  measured = run_measured([sys.executable, str(taxi / 'taxi_pipeline_native_keras.py')],
                          env={'HOME': str(home), 'TF_USE_LEGACY_KERAS': '1'}, cwd=taxi)
  result = {'measured': measured}
  if measured.returncode == 0:
    import tensorflow_model_analysis as tfma  # pylint: disable=import-outside-toplevel
    store = open_store(home / 'tfx' / 'metadata' / REFERENCE_NAME / 'metadata.db')
    evaluation = max(store.get_artifacts_by_type('ModelEvaluation'), key=lambda a: a.id)
    for metrics in tfma.load_metrics(evaluation.uri):
      for entry in metrics.metric_keys_and_values:
        if entry.key.name == 'binary_accuracy' and not entry.key.is_diff:
          result['accuracy'] = entry.value.double_value.value
    pushed = list((taxi / 'serving_model' / REFERENCE_NAME).glob('[0-9]*'))
    result['model_kb'] = directory_kb(pushed[0]) if pushed else None
  return result


def _row(label, result) -> str:
  m = result['measured']
  accuracy = result.get('accuracy')
  auc = result.get('auc')
  size = result.get('model_kb')
  return (f'{label:10} {m.seconds:8.1f} {m.peak_process_mb:10.0f} {m.peak_tree_mb:10.0f} '
          f'{accuracy if accuracy is not None else float("nan"):9.4f} '
          f'{auc if auc is not None else float("nan"):7.4f} '
          f'{size if size is not None else float("nan"):9.0f}  exit {m.returncode}')


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--runs', type=int, default=3)
  parser.add_argument('--rows', type=int, help='use only the first N rows (smoke runs)')
  parser.add_argument('--smoke', action='store_true',
                      help=f'check the script only: {SMOKE_STEPS} training steps each, the '
                           "reference's Beam in_memory")
  args = parser.parse_args(argv)
  ours, reference = [], []
  print(f'{"run":10} {"wall s":>8} {"peak MB":>10} {"tree MB":>10} {"accuracy":>9} '
        f'{"auc":>7} {"model KB":>9}')
  for index in range(args.runs):
    with tempfile.TemporaryDirectory(prefix='forge-bench-') as temp:
      work = Path(temp)
      csv = taxi_csv(work, args.rows)
      pair = [('ours', lambda w, c: run_ours(
                   w, c, ['--train-steps', str(SMOKE_STEPS)] if args.smoke else [])),
              ('reference', lambda w, c: run_reference(w, c, args.smoke))]
      for label, runner in (pair if index % 2 == 0 else pair[::-1]):
        (work / label).mkdir()
        result = runner(work / label, csv)
        (ours if label == 'ours' else reference).append(result)
        print(_row(f'{label} {index + 1}', result), flush=True)
        if result['measured'].returncode not in (0, NOT_BLESSED):
          print(result['measured'].output[-3000:])
          return 1
  time_ratio = median([o['measured'].seconds for o in ours]) / median(
      [r['measured'].seconds for r in reference])
  memory_ratio = median([o['measured'].peak_process_mb for o in ours]) / median(
      [r['measured'].peak_process_mb for r in reference])
  tree_ratio = median([o['measured'].peak_tree_mb for o in ours]) / median(
      [r['measured'].peak_tree_mb for r in reference])
  print(f'\nmedian ratio ours/reference: wall time {time_ratio:.2f}, '
        f'peak process memory {memory_ratio:.2f}, peak tree memory {tree_ratio:.2f}')
  print('\nour per-component durations (median s):')
  for component in ours[0]['durations']:
    print(f'  {component:32} {median([o["durations"].get(component, 0) for o in ours]):6.1f}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
