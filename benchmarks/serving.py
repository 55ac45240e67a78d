"""Serving-side latency of a pushed SavedModel's serving_default, in process: batch-1 and
batch-64 p50/p99 over real eval rows.

  .venv/bin/python benchmarks/serving.py --config configs/taxi.yaml [--runs 200]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from base import env  # noqa: E402,F401  (before TensorFlow)
import logging  # noqa: E402

logging.getLogger('tensorflow').setLevel(logging.ERROR)
import tensorflow as tf  # noqa: E402

from components.serving_pusher import warmup  # noqa: E402
from pipeline.config import load_config  # noqa: E402
from pipeline.summary import pushed_versions  # noqa: E402


def latencies_ms(signature, examples, batch: int, runs: int) -> np.ndarray:
  rows = (examples * (batch // len(examples) + 1))[:batch]
  batch_tensor = tf.constant(rows)
  signature(examples=batch_tensor)  # first call traces; not timed
  timings = []
  for _ in range(runs):
    started = time.perf_counter()
    signature(examples=batch_tensor)
    timings.append((time.perf_counter() - started) * 1000)
  return np.array(timings)


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--config', required=True)
  parser.add_argument('--runs', type=int, default=200)
  args = parser.parse_args(argv)
  config = load_config(args.config)
  versions = pushed_versions(config.metadata_path)
  if not versions:
    print(f'{args.config}: nothing pushed yet; run `forge run {args.config}` first')
    return 1
  model_dir = versions[-1].path
  examples = [log.predict_log.request.inputs['examples'] for log in warmup.read(model_dir)
              if log.predict_log.request.model_spec.signature_name == 'serving_default']
  rows = list(tf.make_ndarray(examples[0]))
  signature = tf.saved_model.load(model_dir).signatures['serving_default']
  print(f'{model_dir}: serving_default, {args.runs} timed calls per batch size')
  for batch in (1, 64):
    timings = latencies_ms(signature, rows, batch, args.runs)
    print(f'  batch {batch:3}: p50 {np.percentile(timings, 50):7.2f} ms  '
          f'p99 {np.percentile(timings, 99):7.2f} ms  '
          f'({batch / np.percentile(timings, 50) * 1000:8.0f} rows/s at p50)')
  return 0


if __name__ == '__main__':
  sys.exit(main())
