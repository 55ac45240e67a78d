"""`forge watch`: keeps a pipeline running as data arrives, on one machine.

Each poll asks what ExampleGen would read now (TFX's own span resolution and input
fingerprint: calculate_splits_fingerprint_span_and_version, the function ExampleGen's driver
calls) and looks for an Examples artifact with that fingerprint in ML Metadata. None: the data
is new (a new span, or changed files without spans) and the pipeline runs, in a child `forge
run`, so a crash costs that run and not the watch. One run at a time (the run's own lock);
every decision is logged with a timestamp; SIGTERM or Ctrl-C stops after passing the signal
to a running child, whose run then stops cleanly (no lock left, no half-written version).
"""
from __future__ import annotations

import dataclasses
import datetime
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, List, Optional, Set

from pipeline import datasets
from pipeline.config import ForgeConfig

@dataclasses.dataclass(frozen=True)
class DataState:
  fingerprint: str
  span: int

  def describe(self) -> str:
    return f'span {self.span}' if self.span else 'the data'


def current_data(config: ForgeConfig) -> DataState:
  """What ExampleGen would read if the pipeline ran now (the newest span)."""
  # pylint: disable=import-outside-toplevel  (TFX: only once the config is known good)
  from tfx.components.example_gen import utils
  from tfx.proto import example_gen_pb2
  work_dir = config.pipeline.root.resolve() / 'data'
  datasets.materialize(config.data.builtin, work_dir)
  source = datasets.locate(config.data.builtin, config.data.path, config.data.format, work_dir)
  fingerprint, span, _ = utils.calculate_splits_fingerprint_span_and_version(
      str(source.input_base), [example_gen_pb2.Input.Split(name='all', pattern=source.pattern)])
  return DataState(fingerprint, span)


def ingested(config: ForgeConfig, state: DataState) -> bool:
  """Whether an ExampleGen of this pipeline already read exactly this data."""
  if not config.metadata_path.is_file():
    return False
  from pipeline.summary import open_store  # pylint: disable=import-outside-toplevel
  store = open_store(config.metadata_path)
  return any(artifact.custom_properties['input_fingerprint'].string_value == state.fingerprint
             for artifact in store.get_artifacts_by_type('Examples')
             if 'input_fingerprint' in artifact.custom_properties)


class Watch:
  """The polling loop; `run_pipeline` starts one run and returns its process."""

  def __init__(self, config: ForgeConfig, run_command: List[str], interval: float,
               max_runs: Optional[int], say: Callable[[str], None] = print):
    self._config = config
    self._run_command = run_command
    self._interval = interval
    self._max_runs = max_runs
    self._say = say
    self._child: Optional[subprocess.Popen] = None
    self._stopping = False
    self._tried: Set[str] = set()  # fingerprints run by this watch (a crash is not retried)
    self.runs: List[int] = []  # exit codes, in order

  def log(self, message: str) -> None:
    stamp = datetime.datetime.now().isoformat(timespec='seconds')
    self._say(f'[{stamp}] {message}')

  def _stop(self, signum, _frame) -> None:
    self._stopping = True
    self.log(f'{signal.Signals(signum).name}: stopping' +
             (' after the running pipeline stops' if self._child else ''))
    if self._child is not None and self._child.poll() is None:
      self._child.send_signal(signal.SIGTERM)

  def poll_once(self) -> Optional[int]:
    """Runs the pipeline when the data is new; returns the run's exit code, or None."""
    try:
      state = current_data(self._config)
    except Exception as err:  # pylint: disable=broad-except  (a bad poll is logged, not fatal)
      self.log(f'cannot read the data location yet: {err}')
      return None
    if state.fingerprint in self._tried or ingested(self._config, state):
      self.log(f'no new data: {state.describe()} was read before; next poll in '
               f'{self._interval:g} s')
      return None
    self._tried.add(state.fingerprint)
    self.log(f'new data: {state.describe()}; running the pipeline')
    self._child = subprocess.Popen(self._run_command)
    code = self._child.wait()
    self._child = None
    self.runs.append(code)
    self.log(f'run {len(self.runs)} ended with exit code {code}'
             + (' (see its output above; the watch goes on)' if code else ''))
    return code

  def run(self) -> bool:
    """Polls until --max-runs polls or a signal; True when a signal stopped it."""
    previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
      self.log(f'watching {self._config.data.path or self._config.data.builtin} every '
               f'{self._interval:g} s' + (f', at most {self._max_runs} poll(s)'
                                          if self._max_runs else ''))
      polls = 0
      while not self._stopping:
        self.poll_once()
        polls += 1
        if self._max_runs is not None and polls >= self._max_runs:
          self.log(f'{polls} poll(s) done (--max-runs); stopping')
          break
        deadline = time.monotonic() + self._interval
        while not self._stopping and time.monotonic() < deadline:
          time.sleep(min(0.2, self._interval))
      return self._stopping
    finally:
      for sig, handler in previous.items():
        signal.signal(sig, handler)


def run_command(config_path: Path, overrides: List[str]) -> List[str]:
  return [sys.executable, '-m', 'pipeline.cli', 'run', str(config_path), *overrides]
