"""The pre-push serving check, run in its own process: load the candidate SavedModel with
the serving tag, as TF Serving does, replay its warm-up requests through each serving
signature, and require both signatures to agree on the same rows. The process imports
TensorFlow and nothing of the pipeline (no TensorFlow Transform, TFX or custom ops), as
a model server would.

TFX's InfraValidator does this with a real model server, which needs Docker or
Kubernetes; this check runs anywhere. Usage: python -m components.serving_pusher.check DIR,
or with --stdin, which reads DIR from standard input once TensorFlow is imported.
"""
from base import env  # noqa: F401  (before TensorFlow)

import subprocess
import sys
from typing import Optional

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


_waiting: Optional[subprocess.Popen] = None  # see start_early


def _start() -> subprocess.Popen:
  return subprocess.Popen([sys.executable, '-m', 'components.serving_pusher.check', '--stdin'],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)


def start_early() -> None:
  """Starts the next check's process now, so that its TensorFlow import (7 s on 2 cores)
  overlaps the pipeline's work instead of adding to the Pusher's; the local runner calls
  it before the pipeline runs. The process still loads the model fresh, and serves one
  check only. It exits by itself when this process ends (its stdin closes)."""
  global _waiting
  if _waiting is None or _waiting.poll() is not None:
    _waiting = _start()


def stop_early_start() -> None:
  """Ends a process start_early started that no check used (e.g. a run from the cache)."""
  global _waiting
  if _waiting is not None:
    _waiting.kill()
    _waiting.wait()
    _waiting = None


def check_in_subprocess(model_dir: str, timeout: int = 300) -> str:
  """Runs check_model in a fresh Python process (the one start_early started, if any);
  raises ServingCheckError with its output."""
  global _waiting
  start_early()
  process, _waiting = _waiting, None
  try:
    stdout, stderr = process.communicate(model_dir + '\n', timeout=timeout)
  except subprocess.TimeoutExpired:
    process.kill()
    process.wait()
    raise ServingCheckError(f'the check did not finish in {timeout} s') from None
  if process.returncode != 0:
    reasons = [line for line in stderr.splitlines() if line.startswith(_FAILED)]
    raise ServingCheckError(reasons[-1][len(_FAILED):] if reasons else
                            f'the check process exited with {process.returncode}: '
                            f'{stderr.strip()[-2000:]}')
  return stdout.strip()


def _one_line(error: Exception) -> str:
  """TensorFlow's errors span lines with graph-node noise; keep the words that explain."""
  noise = ('Detected at node', '<stack traces', '[[')
  return ' '.join(line.strip() for line in str(error).splitlines()
                  if line.strip() and not line.strip().startswith(noise))


def main(argv) -> int:
  model_dir = sys.stdin.readline().strip() if argv[1] == '--stdin' else argv[1]
  if not model_dir:  # started early, then not needed
    return 0
  try:
    print(check_model(model_dir))
  except ServingCheckError as err:
    cause = f': {_one_line(err.__cause__)}' if err.__cause__ else ''
    print(f'{_FAILED}{err}{cause}', file=sys.stderr)
    return 1
  return 0


if __name__ == '__main__':
  sys.exit(main(sys.argv))
