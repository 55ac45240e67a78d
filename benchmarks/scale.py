"""How our pipeline scales with data: taxi-like data at 1x, 10x and 100x the 15k rows
(replicated with noise on the numbers, so statistics and vocabularies stay realistic).
Prints per component: wall time and peak memory of the pipeline process while it ran, and
rows/second for ExampleGen, StatisticsGen and Transform; then the Trainer's input pipeline
alone (rows/second reading transformed examples).

  .venv/bin/python benchmarks/scale.py [--factors 1 10 100] [--base-rows N]
"""
from __future__ import annotations

import argparse
import csv
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Dict, List, Tuple

import psutil

from common import PROJECT_DIR
from e2e import taxi_csv

sys.path.insert(0, str(PROJECT_DIR))
NOISY = {'fare': 0.05, 'tips': 0.05, 'trip_miles': 0.05, 'trip_seconds': 0.05,
         'pickup_latitude': 0.0002, 'pickup_longitude': 0.0002,
         'dropoff_latitude': 0.0002, 'dropoff_longitude': 0.0002}


def generate(source: Path, factor: int, target: Path, seed: int = 0) -> int:
  """Writes `factor` noisy copies of every row, streaming; returns the row count."""
  rng = random.Random(seed)
  rows = 0
  with open(source, newline='') as inp, open(target, 'w', newline='') as out:
    reader = csv.DictReader(inp)
    originals = list(reader)
    writer = csv.DictWriter(out, fieldnames=reader.fieldnames)
    writer.writeheader()
    for copy in range(factor):
      for row in originals:
        if copy:
          row = dict(row)
          for key, scale in NOISY.items():
            if row[key]:
              value = float(row[key])
              noisy = value * (1 + rng.gauss(0, scale)) if scale >= 0.01 else (
                  value + rng.gauss(0, scale))
              if scale >= 0.01:
                noisy = max(noisy, 0.0)
              # Integer columns (trip_seconds) stay integers, as the schema says.
              row[key] = str(round(noisy)) if row[key].isdigit() else f'{noisy:.6g}'
        writer.writerow(row)
        rows += 1
  return rows


def run_with_timeline(command: List[str]) -> Tuple[int, List[Tuple[float, str]], List[Tuple[float, int]]]:
  """Runs `command`; returns its exit code, its stdout lines with arrival times, and
  (time, RSS of the largest process in the tree) samples."""
  process = subprocess.Popen(command, cwd=PROJECT_DIR, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
  samples: List[Tuple[float, int]] = []
  done = threading.Event()

  def sample():
    root = psutil.Process(process.pid)
    while not done.is_set():
      try:
        sizes = [p.memory_info().rss for p in [root] + root.children(recursive=True)]
        samples.append((time.monotonic(), max(sizes)))
      except psutil.Error:
        pass
      done.wait(0.2)

  threading.Thread(target=sample, daemon=True).start()
  lines = [(time.monotonic(), line.rstrip()) for line in process.stdout]
  process.wait()
  done.set()
  return process.returncode, lines, samples


def per_component(lines, samples) -> Dict[str, Tuple[float, float]]:
  """component -> (seconds, peak MB while it ran)."""
  figures, started = {}, {}
  for stamp, line in lines:
    start = re.match(r'^> (\S+) \.\.\.', line)
    finish = re.match(r'^\s+(\S+) done in ([\d.]+) s', line)
    if start:
      started[start.group(1)] = stamp
    elif finish and finish.group(1) in started:
      begin = started[finish.group(1)]
      peak = max((rss for t, rss in samples if begin <= t <= stamp), default=0)
      figures[finish.group(1)] = (float(finish.group(2)), peak / 2**20)
  return figures


def input_pipeline_rows_per_second(root: Path, seconds: float = 10.0) -> float:
  """Reads the transformed training examples as the Trainer does, without a model."""
  code = f'''
import sys, time
from base import env
from pipeline.summary import open_store
from models.common import worker, training
from models.taxi.features import FAMILY
import tensorflow_transform as tft
store = open_store(__import__('pathlib').Path({str(root / 'metadata.sqlite')!r}))
uris = {{a.uri.rstrip('/').split('/')[-2]: a.uri for a in store.get_artifacts()}}
args = type('A', (), dict(transformed_examples=uris['transformed_examples'],
    transform_graph=uris['transform_graph'], output={str(root / 'bench')!r}, train_steps=1, eval_steps=1))
fn_args = worker._fn_args(args, {{}})
data = training.dataset(fn_args, fn_args.train_files, tft.TFTransformOutput(fn_args.transform_graph_path), FAMILY, 256, None)
rows, started = 0, time.monotonic()
for features, labels in data:
  rows += int(labels.shape[0])
  if time.monotonic() - started > {seconds}:
    break
print(rows / (time.monotonic() - started))
'''
  completed = subprocess.run([sys.executable, '-c', code], cwd=PROJECT_DIR, capture_output=True,
                             text=True, check=True)
  return float(completed.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--factors', type=int, nargs='+', default=[1, 10, 100])
  parser.add_argument('--base-rows', type=int, help='start from the first N rows (smoke runs)')
  parser.add_argument('--train-steps', type=int, default=1000)
  args = parser.parse_args(argv)
  with tempfile.TemporaryDirectory(prefix='forge-scale-') as temp:
    work = Path(temp)
    source = taxi_csv(work, args.base_rows)
    for factor in args.factors:
      data = work / f'x{factor}' / 'data.csv'
      data.parent.mkdir()
      rows = generate(source, factor, data)
      root = work / f'x{factor}' / 'root'
      started = time.monotonic()
      code, lines, samples = run_with_timeline(
          [sys.executable, '-m', 'pipeline.cli', 'run', 'configs/taxi.yaml', '--pipeline-root',
           str(root), '--serving-dir', str(work / f'x{factor}' / 'serving'), '--data-path',
           str(data), '--train-steps', str(args.train_steps)])
      wall = time.monotonic() - started
      print(f'\n{factor}x: {rows} rows ({data.stat().st_size / 2**20:.0f} MB CSV), '
            f'{wall:.1f} s wall, peak {max(r for _, r in samples) / 2**20:.0f} MB, exit {code}')
      if code not in (0, 4):  # 4: not blessed, still measured
        print('\n'.join(line for _, line in lines[-40:]))
        return 1
      for component, (seconds, peak) in per_component(lines, samples).items():
        rate = (f'{rows / seconds:10.0f} rows/s'
                if component in ('CsvExampleGen', 'StatisticsGen', 'Transform') and seconds
                else '')
        print(f'  {component:32} {seconds:7.1f} s  peak {peak:7.0f} MB  {rate}')
      print(f'  {"Trainer input pipeline":32} {input_pipeline_rows_per_second(root):10.0f} rows/s')
  return 0


if __name__ == '__main__':
  sys.exit(main())
