"""Model compression: the TFLite variants of the digits and taxi models, side by side.

Runs `forge run` with the optimization stage on, in a fresh root per pipeline, and prints
the ModelOptimizer's table (every variant measured with the LiteRT interpreter on the eval
split) and the compression targets, as ratios against the float32 TFLite file of the same run:
  int8 file >= 3.5x smaller than float32; int8 accuracy drop <= 1 point; int8 gzipped
  >= 2x smaller than float32 gzipped; pruned+int8 gzipped >= 6x smaller than float32
  gzipped; int8 batch-1 p50 below float32's.

  .venv/bin/python benchmarks/compression.py [--pipelines digits taxi] [--train-steps N]
  .venv/bin/python benchmarks/compression.py --measure-root ROOT   # an earlier run's figures
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from common import PROJECT_DIR, run_measured

sys.path.insert(0, str(PROJECT_DIR))
from base import env  # noqa: E402,F401  (before TensorFlow)
import yaml  # noqa: E402

from components.model_optimizer import table  # noqa: E402
from pipeline.summary import read_latest_run  # noqa: E402

RAN = (0, 6)  # forge's exit codes: pushed to mobile, or measured but no variant in budget


def _config(name: str, work: Path, args) -> Path:
  raw = yaml.safe_load((PROJECT_DIR / 'configs' / f'{name}.yaml').read_text())
  raw['pipeline']['root'] = str(work / 'root')
  raw['outputs'] = {'serving_dir': str(work / 'serving'), 'mobile_dir': str(work / 'mobile')}
  raw['optimization'] = {**raw.get('optimization', {}), 'enabled': True,
                         'prune_steps': args.prune_steps, 'qat_steps': args.qat_steps}
  if args.train_steps:
    raw['training']['train_steps'] = args.train_steps
  path = work / f'{name}.yaml'
  path.write_text(yaml.safe_dump(raw))
  return path


def _targets(variants: dict) -> list:
  float32, int8, pruned = (variants.get(n) for n in ('float32', 'int8', 'pruned_int8'))
  if not (float32 and int8 and pruned):
    return ['targets: not measurable (float32, int8 and pruned_int8 are needed)']
  checks = [
      ('int8 file size, float32/int8', float32['size_bytes'] / int8['size_bytes'], '>=', 3.5),
      ('int8 accuracy drop, points', int8['accuracy_drop_points'], '<=', 1.0),
      ('gzipped size, float32/int8', float32['gzip_bytes'] / int8['gzip_bytes'], '>=', 2.0),
      ('gzipped size, float32/pruned_int8', float32['gzip_bytes'] / pruned['gzip_bytes'],
       '>=', 6.0),
      ('batch-1 p50 latency, int8/float32', int8['latency_ms_p50'] / float32['latency_ms_p50'],
       '<', 1.0),
  ]
  met = {'>=': lambda a, b: a >= b, '<=': lambda a, b: a <= b, '<': lambda a, b: a < b}
  return [f'{name}: {value:.2f} (target {op} {bound}) {"met" if met[op](value, bound) else "NOT met"}'
          for name, value, op, bound in checks]


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--pipelines', nargs='+', default=['digits', 'taxi'],
                      choices=['digits', 'taxi', 'penguin'])
  parser.add_argument('--train-steps', type=int, help='override training.train_steps')
  parser.add_argument('--prune-steps', type=int, default=300)
  parser.add_argument('--qat-steps', type=int, default=200)
  parser.add_argument('--measure-root', type=Path,
                      help='print the table and targets of the latest run of this pipeline '
                           'root (one with the optimization stage on) instead of running')
  args = parser.parse_args()
  if args.measure_root:
    print(f'\n== {args.measure_root}: the latest run')
    _print_report(args.measure_root)
    return 0
  failed = False
  for name in args.pipelines:
    with tempfile.TemporaryDirectory(prefix=f'compression-{name}-') as work:
      config = _config(name, Path(work), args)
      measured = run_measured([sys.executable, '-m', 'pipeline.cli', 'run', str(config)])
      print(f'\n== {name}: forge run exit {measured.returncode} in {measured.seconds:.1f} s')
      if measured.returncode not in RAN:
        print(measured.output[-3000:])
        failed = True
        continue
      _print_report(Path(work) / 'root')
  return 1 if failed else 0


def _print_report(root: Path) -> None:
  report = read_latest_run(root / 'metadata.sqlite').optimization
  print(f'eval rows: {report["eval_rows"]}; selected for mobile: {report["selected"]}')
  print('\n'.join(table.lines(report)))
  print('\n'.join(_targets(report['variants'])))


if __name__ == '__main__':
  sys.exit(main())
