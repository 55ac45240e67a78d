"""Differentially private training: tensorflow-privacy's DP-SGD Keras optimizer (per-example
gradients clipped to `l2_norm_clip`, Gaussian noise of `noise_multiplier` times that) and the
(epsilon, delta) the run spends, from dp_accounting's RDP accountant (the accountant
tensorflow-privacy itself reports with) for the actual steps, batch size and dataset size."""
import sys

import dp_accounting
import tensorflow as tf

from base.settings import PrivacySection

# tensorflow_privacy's package __init__ imports its TF1 estimators, which cannot load on
# TensorFlow 2.16; this is the library's own switch for importing its modules alone.
sys.skip_tf_privacy_import = True
from tensorflow_privacy.privacy.optimizers.dp_optimizer_keras import (  # noqa: E402
    DPKerasAdamOptimizer)


def optimizer(settings: PrivacySection, batch_size: int, rate) -> tf.keras.optimizers.Optimizer:
  """Adam with DP-SGD; `microbatches` (default: one per example of the global batch) must
  divide the batch."""
  return DPKerasAdamOptimizer(
      l2_norm_clip=settings.l2_norm_clip, noise_multiplier=settings.noise_multiplier,
      num_microbatches=settings.microbatches or batch_size, learning_rate=rate)


def per_example_loss(binary: bool) -> tf.keras.losses.Loss:
  """DP-SGD clips each example's (microbatch's) gradient, so the loss is not reduced."""
  none = tf.keras.losses.Reduction.NONE
  return (tf.keras.losses.BinaryCrossentropy(reduction=none) if binary
          else tf.keras.losses.SparseCategoricalCrossentropy(reduction=none))


def default_delta(dataset_size: int) -> float:
  """Well below 1/n, the usual rule: a delta near 1/n would allow leaking one record."""
  return 0.1 / dataset_size


def epsilon(noise_multiplier: float, batch_size: int, steps: int, dataset_size: int,
            delta: float) -> float:
  """Epsilon spent by `steps` Poisson-sampled Gaussian steps at sampling rate batch/n."""
  sampled = dp_accounting.PoissonSampledDpEvent(
      min(1.0, batch_size / dataset_size), dp_accounting.GaussianDpEvent(noise_multiplier))
  accountant = dp_accounting.rdp.RdpAccountant()
  accountant.compose(dp_accounting.SelfComposedDpEvent(sampled, steps))
  return float(accountant.get_epsilon(delta))
