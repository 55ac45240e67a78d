"""Per-component progress on the console while TFX's own logs go to a file.

The local runner tells ComponentProgress when each component starts and finishes
(pipeline/local_dag.py); it prints one line per component with its duration. Everything else (TensorFlow, Beam, TFX INFO logs, warnings, C++
messages on stderr) goes to the run's log file unless --verbose.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
from pathlib import Path
from typing import Dict, List, Optional, TextIO

import absl.logging

from base.env import release_free_memory

class ComponentProgress(logging.Handler):
  """Prints a line when each component starts and finishes (a listener of the local runner)
  and the `forge.progress` messages components log."""

  def __init__(self, console: TextIO):
    super().__init__(level=logging.INFO)
    self._console = console
    self.current: Optional[str] = None
    self.durations: Dict[str, float] = {}
    self.cached: List[str] = []

  def _say(self, text: str) -> None:
    self._console.write(text + '\n')
    self._console.flush()

  def emit(self, record: logging.LogRecord) -> None:
    if record.name.startswith('forge.progress'):
      self._say(record.getMessage())

  def started(self, node_id: str) -> None:
    self.current = node_id
    self._say(f'> {node_id} ...')

  def finished(self, node_id: str, seconds: float, cached: bool) -> None:
    self.durations[node_id] = seconds
    if cached:
      self.cached.append(node_id)
    self._say(f'  {node_id} done in {seconds:.1f} s{" (cached)" if cached else ""}')
    self.current = None


class MemoryRelease:
  """Returns the finished component's freed memory to the OS before the next one starts (a
  listener of the local runner; see base/env.py)."""

  def started(self, node_id: str) -> None:
    del node_id

  def finished(self, node_id: str, seconds: float, cached: bool) -> None:
    del node_id, cached
    if seconds > 1:  # a collection costs a few tenths of a second
      release_free_memory()


@contextlib.contextmanager
def console_progress(log_path: Path, verbose: bool):
  """Yields the ComponentProgress handler; logs of the whole run go to `log_path`."""
  log_path.parent.mkdir(parents=True, exist_ok=True)
  sys.stdout.flush()
  sys.stderr.flush()
  saved_out, saved_err = os.dup(1), os.dup(2)
  console = os.fdopen(os.dup(1), 'w', buffering=1)
  log_file = open(log_path, 'a', encoding='utf-8', buffering=1)
  root = logging.getLogger()
  previous_level = root.level
  file_handler = logging.StreamHandler(log_file)
  file_handler.setFormatter(logging.Formatter('%(asctime)s %(levelname)s %(name)s: %(message)s'))
  progress = ComponentProgress(console)
  handlers = [file_handler, progress]
  if verbose:
    handlers.append(logging.StreamHandler(console))
  else:
    # Native code (TensorFlow, Beam, gRPC) writes to fds 1 and 2 directly.
    os.dup2(log_file.fileno(), 1)
    os.dup2(log_file.fileno(), 2)
  absl.logging.set_verbosity(absl.logging.INFO)
  root.setLevel(logging.INFO)
  logging.captureWarnings(True)
  for handler in handlers:
    root.addHandler(handler)
  try:
    yield progress
  finally:
    for handler in handlers:
      root.removeHandler(handler)
    root.setLevel(previous_level)
    absl.logging.set_verbosity(absl.logging.WARNING)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(saved_out, 1)
    os.dup2(saved_err, 2)
    for fd in (saved_out, saved_err):
      os.close(fd)
    log_file.close()
    console.close()
