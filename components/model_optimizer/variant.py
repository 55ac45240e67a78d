"""One TFLite variant, built and measured in a child process: conversion, the file's
metadata, the LiteRT measurements. The TFLite converter and its calibrator are native code
that can crash (a segfault, an abort) on graphs they do not expect; run here, a crash costs
that variant and not the pipeline run.

Children fork from a server that has imported TensorFlow once (multiprocessing's
forkserver, started when the ModelOptimizer starts), so a variant starts in about half a
second instead of the ten that importing TensorFlow takes on two cores.
"""
from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import signal
from multiprocessing import forkserver
from typing import Any, Callable, Dict, List, Optional

import numpy as np

from components.common import tflite_measure, tflite_metadata
from components.model_optimizer import convert

_CONTEXT = multiprocessing.get_context('forkserver')
# Longer than any conversion seen (taxi's int8 calibration: about a minute on two cores).
TIMEOUT_SECONDS = 1800


@dataclasses.dataclass
class Request:
  """What a child needs to build and measure one variant."""
  variant: str
  saved_model_dir: str
  output_path: str  # where the .tflite file goes
  calibration: Optional[Dict[str, np.ndarray]]  # mobile inputs of training rows (int8)
  int8_io: bool
  columns: Dict[str, np.ndarray]  # mobile inputs of the eval rows
  labels: np.ndarray
  reference: np.ndarray  # the source SavedModel's mobile outputs on those rows
  reference_classes: Optional[List[str]]  # its serving_default classes (None: regression)
  latency_runs: int
  threads: int
  regression: bool
  metadata: Dict[str, Any]  # tflite_metadata.write's info


def _calibration_rows(columns: Dict[str, np.ndarray]):
  def rows():
    for index in range(len(next(iter(columns.values())))):
      yield {name: values[index:index + 1] for name, values in columns.items()}
  return rows


def build(request: Request) -> Dict[str, Any]:
  """{'measured': the variants-table row} or {'refused': reason} (plus 'ops' when the graph
  needs TensorFlow ops). Writes the .tflite, with its metadata, to request.output_path."""
  try:
    model = convert.convert(request.saved_model_dir, request.variant,
                            _calibration_rows(request.calibration or {}), request.int8_io)
  except convert.NeedsTensorFlowOps as err:
    return {'refused': str(err), 'ops': err.ops}
  except convert.ConversionFailed as err:
    return {'refused': str(err)}
  model = tflite_metadata.write(model, request.metadata)
  with open(request.output_path, 'wb') as out:
    out.write(model)
  measured, outputs = tflite_measure.measure(
      model, request.columns, request.labels, request.reference, request.latency_runs,
      request.threads, request.regression)
  if request.reference_classes is not None:
    # Top-1 by the label file an app reads, against the SavedModel's serving_default.
    names = tflite_metadata.labels(model)
    top1 = outputs.argmax(axis=1)
    measured['top1_vs_savedmodel'] = float(np.mean(
        np.array(names)[top1] == np.array(request.reference_classes)))
    measured['litert_top1'] = top1.tolist()  # the Task Library's answers are compared with it
  return {'measured': measured}


def _run(target: Callable[[Request], Dict[str, Any]], request: Request, results) -> None:
  try:
    answer = target(request)
  except Exception as err:  # pylint: disable=broad-except
    logging.exception('building %s failed', request.variant)  # the traceback: the run log
    answer = {'refused': f'building {request.variant} failed: {type(err).__name__}: '
                         f'{str(err)[:300]}'}
  results.send(answer)


def start_server() -> None:
  """Starts the fork server and its TensorFlow import now, so that it overlaps with the
  work before the first variant."""
  _CONTEXT.set_forkserver_preload([__name__])
  forkserver.ensure_running()


def stop_server() -> None:
  """Stops the fork server (TensorFlow loaded: about half a gigabyte) once the variants are
  built. multiprocessing has no public call for this; _stop is the one its tests use."""
  forkserver._forkserver._stop()  # pylint: disable=protected-access


def build_isolated(request: Request,
                   target: Callable[[Request], Dict[str, Any]] = build) -> Dict[str, Any]:
  """build(request) in a child process; a child that dies (a signal, an exit without an
  answer) or runs past TIMEOUT_SECONDS is that variant's refusal, with the reason."""
  receive, send = _CONTEXT.Pipe(duplex=False)
  child = _CONTEXT.Process(target=_run, args=(target, request, send), daemon=True)
  child.start()
  send.close()
  answer = None
  if receive.poll(TIMEOUT_SECONDS):
    try:
      answer = receive.recv()
    except EOFError:  # died before answering
      pass
  child.join(5 if answer is not None else 60)
  if child.is_alive():
    child.kill()
    child.join()
    if answer is None:
      return {'refused': f'building {request.variant} took over {TIMEOUT_SECONDS} s; '
                         'the process was stopped'}
  if answer is not None:
    return answer
  code = child.exitcode
  if code is not None and code < 0:
    name = signal.Signals(-code).name
    return {'refused': f'the converter process crashed while building {request.variant} '
                       f'(killed by {name}, signal {-code}); the other variants are unaffected'}
  return {'refused': f'the converter process exited with code {code} while building '
                     f'{request.variant}, without an answer; see the run log'}
