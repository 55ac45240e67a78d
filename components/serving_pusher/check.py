"""The pre-push serving check, run in its own process: load the candidate SavedModel with
the serving tag, as TF Serving does, replay its warm-up requests through each serving
signature, and require both signatures to agree on the same rows.

TFX's InfraValidator does this with a real model server, which needs Docker or
Kubernetes; this check runs anywhere. Usage: python -m components.serving_pusher.check DIR
"""
from pipeline import env  # noqa: F401  (before TensorFlow)

import subprocess
import sys

import numpy as np
import tensorflow as tf

from components.serving_pusher import warmup

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
    values = outputs['probabilities'].numpy()
    if not np.isfinite(values).all():
      raise ServingCheckError(f'signature {signature!r} returns non-finite probabilities')
    probabilities[signature] = values
  first, *others = probabilities.values()
  for signature, values in zip(list(probabilities)[1:], others):
    difference = float(np.abs(values - first).max())
    if difference > TOLERANCE:
      raise ServingCheckError(f'signature {signature!r} disagrees with the others by '
                              f'{difference:.2e} on the same rows')
  rows = len(first)
  return f'{len(probabilities)} signatures answered {rows} warm-up rows identically'


def check_in_subprocess(model_dir: str, timeout: int = 300) -> str:
  """Runs check_model in a fresh Python process; raises ServingCheckError with its output."""
  completed = subprocess.run(
      [sys.executable, '-m', 'components.serving_pusher.check', model_dir],
      capture_output=True, text=True, timeout=timeout)
  if completed.returncode != 0:
    reasons = [line for line in completed.stderr.splitlines() if line.startswith(_FAILED)]
    raise ServingCheckError(reasons[-1][len(_FAILED):] if reasons else
                            f'the check process exited with {completed.returncode}: '
                            f'{completed.stderr.strip()[-2000:]}')
  return completed.stdout.strip()


def _one_line(error: Exception) -> str:
  """TensorFlow's errors span lines with graph-node noise; keep the words that explain."""
  noise = ('Detected at node', '<stack traces', '[[')
  return ' '.join(line.strip() for line in str(error).splitlines()
                  if line.strip() and not line.strip().startswith(noise))


def main(argv) -> int:
  try:
    print(check_model(argv[1]))
  except ServingCheckError as err:
    cause = f': {_one_line(err.__cause__)}' if err.__cause__ else ''
    print(f'{_FAILED}{err}{cause}', file=sys.stderr)
    return 1
  return 0


if __name__ == '__main__':
  sys.exit(main(sys.argv))
