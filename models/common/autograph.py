"""Keeps TensorFlow's AutoGraph out of Keras's own code, as TensorFlow intends.

AutoGraph rewrites Python functions into graph code when a tf.function traces them, and
skips libraries written to run unconverted; its rule for Keras names the `keras` package.
Keras 2 (which tensorflow-model-optimization needs) now lives in `tf_keras`, which that
rule misses, so every process converted tf_keras's train step, losses, metrics and
optimizer again: 15 s of the taxi Trainer's 25 s on this machine, for the same graph.
This adds the same rule for `tf_keras`. Our own layers are still converted. Written by
hand: TensorFlow has no public setting for it (tf.autograph.experimental.do_not_convert
marks one function, not a package).
"""
from tensorflow.python.autograph.core import config  # pylint: disable=no-name-in-module

_TF_KERAS = config.DoNotConvert('tf_keras')


def skip_tf_keras() -> None:
  """Idempotent; call before the first tf.function traces Keras code."""
  if _TF_KERAS not in config.CONVERSION_RULES:
    config.CONVERSION_RULES = (_TF_KERAS,) + tuple(config.CONVERSION_RULES)
