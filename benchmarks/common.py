"""Helpers the benchmarks share: run a command while sampling its process tree's memory."""
from __future__ import annotations

import dataclasses
import os
import statistics
import subprocess
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional

import psutil

PROJECT_DIR = Path(__file__).resolve().parent.parent


@dataclasses.dataclass
class Measured:
  seconds: float
  peak_process_mb: float  # the largest single process at any moment
  peak_tree_mb: float  # the whole process tree at any moment
  returncode: int
  output: str


def run_measured(command: List[str], env: Optional[Dict[str, str]] = None,
                 cwd: Optional[Path] = None, interval: float = 0.2) -> Measured:
  """Runs `command`, sampling the RSS of it and all its descendants every `interval` s."""
  started = time.monotonic()
  process = subprocess.Popen(command, cwd=cwd or PROJECT_DIR, env={**os.environ, **(env or {})},
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
  peaks = {'process': 0, 'tree': 0}
  done = threading.Event()

  def sample():
    root = psutil.Process(process.pid)
    while not done.is_set():
      try:
        members = [root] + root.children(recursive=True)
        sizes = []
        for member in members:
          try:
            sizes.append(member.memory_info().rss)
          except psutil.Error:
            pass
        if sizes:
          peaks['process'] = max(peaks['process'], max(sizes))
          peaks['tree'] = max(peaks['tree'], sum(sizes))
      except psutil.Error:
        pass
      done.wait(interval)

  sampler = threading.Thread(target=sample, daemon=True)
  sampler.start()
  output, _ = process.communicate()
  done.set()
  sampler.join()
  return Measured(time.monotonic() - started, peaks['process'] / 2**20, peaks['tree'] / 2**20,
                  process.returncode, output)


def directory_kb(path: Path) -> float:
  return sum(f.stat().st_size for f in path.rglob('*') if f.is_file()) / 1024


def median(values: List[float]) -> float:
  return statistics.median(values) if values else float('nan')
