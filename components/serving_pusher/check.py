"""The pre-push serving check, run in its own process: load the candidate SavedModel with
the serving tag, as TF Serving does, replay its warm-up requests through each serving
signature, and require both signatures to agree on the same rows. The process imports
TensorFlow and nothing of the pipeline (no TensorFlow Transform, TFX or custom ops), as
a model server would.

TFX's InfraValidator does this with a real model server, which needs Docker or
Kubernetes; this check runs anywhere. Usage: python -m components.serving_pusher.check DIR,
or with --listen SOCKET, which serves one check once TensorFlow is imported (Prestarted).
"""
from base import env  # noqa: F401  (before TensorFlow)

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from multiprocessing import connection

import numpy as np
import tensorflow as tf

from components.serving_pusher import warmup
from models.common.family import PREDICTION, PROBABILITIES

TOLERANCE = 1e-5
_FAILED = 'serving check failed: '


class ServingCheckError(RuntimeError):
  """The candidate would not load or answer in TF Serving; it is not pushed."""


def check_model(model_dir: str) -> str:
  """Raises ServingCheckError on the first failure; returns a one-line report."""
  try:
    loaded = tf.saved_model.load(model_dir, tags=['serve'])
  except Exception as err:  # pylint: disable=broad-except
    raise ServingCheckError('the SavedModel does not load') from err
  probabilities = {}
  for log in warmup.read(model_dir):
    request = log.predict_log.request
    signature = request.model_spec.signature_name
    if signature not in loaded.signatures:
      raise ServingCheckError(f'signature {signature!r} is missing; the model has '
                              f'{sorted(loaded.signatures)}')
    inputs = {name: tf.constant(tf.make_ndarray(proto)) for name, proto in request.inputs.items()}
    try:
      outputs = loaded.signatures[signature](**inputs)
    except Exception as err:  # pylint: disable=broad-except
      raise ServingCheckError(f'signature {signature!r} fails on the warm-up rows') from err
    key = PROBABILITIES if PROBABILITIES in outputs else PREDICTION
    if key not in outputs:
      raise ServingCheckError(f'signature {signature!r} returns neither {PROBABILITIES!r} nor '
                              f'{PREDICTION!r}: {sorted(outputs)}')
    values = outputs[key].numpy()
    if not np.isfinite(values).all():
      raise ServingCheckError(f'signature {signature!r} returns non-finite {key}')
    probabilities[signature] = values
  first, *others = probabilities.values()
  for signature, values in zip(list(probabilities)[1:], others):
    difference = float(np.abs(values - first).max())
    # Relative to the values' size: a regression answers in the label's units.
    if difference > TOLERANCE * max(1.0, float(np.abs(first).max())):
      raise ServingCheckError(f'signature {signature!r} disagrees with the others by '
                              f'{difference:.2e} on the same rows')
  rows = len(first)
  return f'{len(probabilities)} signatures answered {rows} warm-up rows identically'


# A check process started ahead of the Pusher listens at the unix socket this names.
PRESTARTED = 'FORGE_SERVING_CHECK_ADDRESS'
_CONNECT_SECONDS = 60  # a prestarted process binds once TensorFlow is imported


class Prestarted:
  """A check process started with the run (the local runner does, pipeline/runner.py), so
  its TensorFlow import (7 s on 2 cores) overlaps the pipeline's work instead of adding to
  the Pusher's. It serves one check at a unix socket whose path goes into the environment
  (PRESTARTED), where the Pusher's executor finds it; under an orchestrator that starts
  none, the executor starts a process of its own. The process loads the model fresh, and
  ends with this one (its stdin closes)."""

  def __init__(self):
    self._folder = tempfile.mkdtemp(prefix='forge-check-')
    self.address = os.path.join(self._folder, 'socket')
    self.process = subprocess.Popen(
        [sys.executable, '-m', 'components.serving_pusher.check', '--listen', self.address],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.environ[PRESTARTED] = self.address

  def close(self) -> None:
    """Ends the process if no check used it (e.g. a run from the cache)."""
    if os.environ.get(PRESTARTED) == self.address:
      del os.environ[PRESTARTED]
    self.process.kill()
    self.process.wait()
    shutil.rmtree(self._folder, ignore_errors=True)


def _connect(address: str):
  deadline = time.monotonic() + _CONNECT_SECONDS
  while True:
    try:
      return connection.Client(address, family='AF_UNIX')
    except (FileNotFoundError, ConnectionRefusedError):
      if time.monotonic() > deadline:
        return None
      time.sleep(0.2)


def check_in_subprocess(model_dir: str, timeout: int = 300) -> str:
  """Runs check_model in a process without the pipeline's libraries: the prestarted one
  when the environment names one, else a fresh one; raises ServingCheckError."""
  address = os.environ.pop(PRESTARTED, None)  # it serves one check
  client = _connect(address) if address else None
  if client is None:
    return _check_in_new_process(model_dir, timeout)
  with client:
    client.send(model_dir)
    if not client.poll(timeout):
      raise ServingCheckError(f'the check did not finish in {timeout} s')
    failed, text = client.recv()
  if failed:
    raise ServingCheckError(text)
  return text


def _check_in_new_process(model_dir: str, timeout: int) -> str:
  try:
    done = subprocess.run([sys.executable, '-m', 'components.serving_pusher.check', model_dir],
                          capture_output=True, text=True, timeout=timeout, check=False)
  except subprocess.TimeoutExpired:
    raise ServingCheckError(f'the check did not finish in {timeout} s') from None
  if done.returncode != 0:
    reasons = [line for line in done.stderr.splitlines() if line.startswith(_FAILED)]
    raise ServingCheckError(reasons[-1][len(_FAILED):] if reasons else
                            f'the check process exited with {done.returncode}: '
                            f'{done.stderr.strip()[-2000:]}')
  return done.stdout.strip()


def _described(err: ServingCheckError) -> str:
  return f'{err}: {_one_line(err.__cause__)}' if err.__cause__ else str(err)


def _serve_one_check(address: str) -> int:
  """--listen: one check for the first client; ends when the parent does (stdin closes)."""
  threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)),  # pylint: disable=protected-access
                   daemon=True).start()
  with connection.Listener(address, family='AF_UNIX') as listener, listener.accept() as client:
    model_dir = client.recv()
    try:
      client.send((False, check_model(model_dir)))
    except ServingCheckError as err:
      client.send((True, _described(err)))
  return 0


def _one_line(error: Exception) -> str:
  """TensorFlow's errors span lines with graph-node noise; keep the words that explain."""
  noise = ('Detected at node', '<stack traces', '[[')
  return ' '.join(line.strip() for line in str(error).splitlines()
                  if line.strip() and not line.strip().startswith(noise))


def main(argv) -> int:
  if argv[1] == '--listen':
    return _serve_one_check(argv[2])
  try:
    print(check_model(argv[1]))
  except ServingCheckError as err:
    print(f'{_FAILED}{_described(err)}', file=sys.stderr)
    return 1
  return 0


if __name__ == '__main__':
  sys.exit(main(sys.argv))
