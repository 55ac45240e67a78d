"""Measures a .tflite file the way a phone runs it: through the LiteRT interpreter
(`ai-edge-litert`, the runtime apps embed), on the eval rows, against the SavedModel."""
from __future__ import annotations

import gzip
import time
from typing import Dict, Tuple

import numpy as np
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from base.signature_names import MOBILE

WARMUP_RUNS = 10


def runner(model: bytes, threads: int):
  return Interpreter(model_content=model, num_threads=threads).get_signature_runner(MOBILE)


def _quantize(values: np.ndarray, details: Dict) -> np.ndarray:
  """Float input -> what the model takes (identity unless it takes int8)."""
  if details['dtype'] != np.int8:
    return values.astype(details['dtype'])
  scale, zero_point = details['quantization']
  return np.clip(np.round(values / scale + zero_point), -128, 127).astype(np.int8)


def _dequantize(values: np.ndarray, details: Dict) -> np.ndarray:
  if details['dtype'] != np.int8:
    return values.astype(np.float32)
  scale, zero_point = details['quantization']
  return (values.astype(np.float32) - zero_point) * scale


def predict(signature_runner, columns: Dict[str, np.ndarray]) -> np.ndarray:
  """The mobile signature's one output: probabilities [rows, classes] (two columns for a
  binary task), or a regression's predictions [rows]."""
  inputs = signature_runner.get_input_details()
  outputs = signature_runner(**{name: _quantize(values, inputs[name])
                                for name, values in columns.items()})
  (name, values), = outputs.items()
  return _dequantize(values, signature_runner.get_output_details()[name])


def quality(outputs: np.ndarray, labels: np.ndarray, regression: bool) -> Dict[str, float]:
  """accuracy (and AUC for a binary task), or a regression's rmse and mae."""
  if regression:
    errors = outputs.reshape(-1) - labels
    return {'rmse': float(np.sqrt(np.mean(errors ** 2))), 'mae': float(np.mean(np.abs(errors)))}
  figures = {'accuracy': accuracy(outputs, labels)}
  if outputs.shape[1] == 2:
    figures['auc'] = auc(outputs, labels)
  return figures


def accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
  return float(np.mean(probabilities.argmax(axis=1) == labels))


def auc(probabilities: np.ndarray, labels: np.ndarray) -> float:
  """ROC AUC of a binary task (column 1: the positive class), as TFMA computes it (Keras'
  AUC)."""
  metric = tf.keras.metrics.AUC(num_thresholds=1000)
  metric.update_state(labels, probabilities[:, 1])
  return float(metric.result().numpy())


def latency_ms(signature_runner, columns: Dict[str, np.ndarray], runs: int) -> Dict[str, float]:
  """Batch-1 latency of one row, p50 and p90 over `runs` invocations after a warm-up."""
  inputs = signature_runner.get_input_details()
  row = {name: _quantize(values[:1], inputs[name]) for name, values in columns.items()}
  for _ in range(WARMUP_RUNS):
    signature_runner(**row)
  times = []
  for _ in range(runs):
    start = time.perf_counter()
    signature_runner(**row)
    times.append((time.perf_counter() - start) * 1000)
  return {'p50': float(np.percentile(times, 50)), 'p90': float(np.percentile(times, 90))}


def measure(model: bytes, columns: Dict[str, np.ndarray], labels: np.ndarray,
            reference: np.ndarray, latency_runs: int, threads: int,
            regression: bool = False) -> Tuple[Dict[str, float], np.ndarray]:
  """One row of the variants table, and the model's outputs on `columns`; `reference`: the
  source SavedModel's outputs."""
  signature_runner = runner(model, threads)
  outputs = predict(signature_runner, columns)
  latency = latency_ms(signature_runner, columns, latency_runs)
  return {
      'size_bytes': len(model),
      'gzip_bytes': len(gzip.compress(model, compresslevel=9)),
      **quality(outputs, labels, regression),
      'latency_ms_p50': latency['p50'],
      'latency_ms_p90': latency['p90'],
      'max_abs_diff_vs_source': float(np.max(np.abs(outputs.reshape(reference.shape)
                                                     - reference))),
  }, outputs
