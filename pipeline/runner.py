"""Runs the pipeline on this machine: LocalDagRunner, Beam's DirectRunner, MLMD in sqlite."""
from __future__ import annotations

import contextlib
import dataclasses
import datetime
import fcntl
import logging
import os
import time
from pathlib import Path
from typing import Dict, Optional

from components.serving_pusher import check as serving_check
from pipeline import datasets, summary as run_summary
from pipeline.config import ForgeConfig
from pipeline.local_dag import ListenedLocalDagRunner
from pipeline.pipeline import create_pipeline
from pipeline.progress import MemoryRelease, console_progress


@dataclasses.dataclass
class LocalRun:
  summary: Optional[run_summary.RunSummary]
  durations: Dict[str, float]
  seconds: float
  log_path: Path
  error: Optional[BaseException] = None
  failed_component: Optional[str] = None


class PipelineBusyError(RuntimeError):
  """Another run of the same pipeline root is in progress."""


@contextlib.contextmanager
def exclusive(root: Path):
  """One run per pipeline root at a time: two LocalDagRunners writing the same sqlite
  ML Metadata store and artifact folders would corrupt both. The lock is released by the
  OS when the process ends, even on SIGKILL."""
  root.mkdir(parents=True, exist_ok=True)
  with open(root / '.forge.lock', 'a+', encoding='utf-8') as lock:
    try:
      fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      lock.seek(0)
      holder = lock.read().strip() or 'another process'
      raise PipelineBusyError(
          f'{root}: another run of this pipeline is in progress ({holder}). Wait for it to '
          'finish, or pass --pipeline-root to run separately.') from None
    lock.seek(0)
    lock.truncate()
    lock.write(f'pid {os.getpid()}')
    lock.flush()
    yield


def run_locally(config: ForgeConfig, verbose: bool = False) -> LocalRun:
  """Runs every component in order; a component that raises stops the run, and the
  exception is returned (not raised) with the component it came from."""
  with exclusive(config.pipeline.root.resolve()):
    return _run(config, verbose)


def _run(config: ForgeConfig, verbose: bool) -> LocalRun:
  stamp = datetime.datetime.now().strftime('%Y%m%d-%H%M%S')
  log_path = config.pipeline.root.resolve() / 'logs' / f'run-{stamp}.log'
  started = time.monotonic()
  error, failed_component = None, None
  with console_progress(log_path, verbose) as progress:
    early_check = serving_check.Prestarted()
    try:
      datasets.materialize(config.data.builtin, config.pipeline.root.resolve() / 'data')
      ListenedLocalDagRunner([progress, MemoryRelease()]).run(create_pipeline(config))
    except Exception as err:  # pylint: disable=broad-except  (returned, with its traceback logged)
      error, failed_component = err, progress.current
      # The console shows the short message; the run log keeps the whole traceback.
      logging.getLogger(__name__).error('%s failed', failed_component or 'The pipeline',
                                        exc_info=True)
    finally:
      early_check.close()
    seconds = time.monotonic() - started
    summary = None
    if config.metadata_path.is_file():
      summary = run_summary.read_latest_run(config.metadata_path)
  return LocalRun(summary, progress.durations, seconds, log_path, error, failed_component)
