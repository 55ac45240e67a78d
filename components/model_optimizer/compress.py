"""Pruning and quantization-aware training of a trained Keras model, with
tensorflow-model-optimization.

Only Dense and Conv2D layers are wrapped (clone_model with a clone function, TFMOT's
recommended way): a family may have layers TFMOT does not know (OneHot, Reshape), and
wrapping the whole model would refuse them.
"""
from __future__ import annotations

from typing import Dict

import numpy as np
import tensorflow as tf
import tensorflow_model_optimization as tfmot

from models.common.family import Family
from models.common.training import compile_model

PRUNABLE = (tf.keras.layers.Dense, tf.keras.layers.Conv2D)


class NotSupported(ValueError):
  """TFMOT refused the model (a layer it has no pruning or quantization config for); the
  variants made from it are not built, the others are."""

  def __init__(self, step: str, error: Exception):
    super().__init__(f'{step} is not supported for this model by '
                     f'tensorflow-model-optimization: {str(error).splitlines()[0][:300]}')
# Masks are updated every this many steps until the schedule's end.
PRUNING_FREQUENCY = 10


def _clone(model: tf.keras.Model, wrap) -> tf.keras.Model:
  """The same graph with `wrap` around each Dense/Conv2D layer. Layers are reused, not
  re-created, so the trained weights carry over. A model loaded from the Trainer's
  SavedModel also tracks its transform layer, outside the graph: only the graph is cloned."""
  graph_only = tf.keras.Model(model.inputs, model.outputs)
  return tf.keras.models.clone_model(
      graph_only, clone_function=lambda layer: wrap(layer) if isinstance(layer, PRUNABLE) else layer)


def prune(model: tf.keras.Model, family: Family, train: tf.data.Dataset, steps: int,
          target_sparsity: float, learning_rate: float) -> tf.keras.Model:
  """Magnitude pruning to `target_sparsity` on a PolynomialDecay schedule that ends at 80%
  of the fine-tuning steps (the rest recovers accuracy at full sparsity), then stripped."""
  end_step = max(PRUNING_FREQUENCY, int(steps * 0.8) // PRUNING_FREQUENCY * PRUNING_FREQUENCY)
  schedule = tfmot.sparsity.keras.PolynomialDecay(
      initial_sparsity=0.0, final_sparsity=target_sparsity, begin_step=0, end_step=end_step,
      frequency=PRUNING_FREQUENCY)
  try:
    pruning = _clone(model, lambda layer: tfmot.sparsity.keras.prune_low_magnitude(
        layer, pruning_schedule=schedule))
  except (ValueError, RuntimeError) as err:
    raise NotSupported('pruning', err) from None
  compile_model(pruning, family, learning_rate)
  pruning.fit(train, epochs=1, steps_per_epoch=max(steps, end_step + 1), verbose=0,
              callbacks=[tfmot.sparsity.keras.UpdatePruningStep()])
  return tfmot.sparsity.keras.strip_pruning(pruning)


def quantization_aware(pruned: tf.keras.Model, family: Family, train: tf.data.Dataset,
                       steps: int, learning_rate: float) -> tf.keras.Model:
  """Fake-quantized training of a pruned model with the prune-preserving scheme, which keeps
  the zeros (plain QAT would fill them back in)."""
  annotated = _clone(pruned, tfmot.quantization.keras.quantize_annotate_layer)
  try:
    quantized = tfmot.quantization.keras.quantize_apply(
        annotated, tfmot.experimental.combine.Default8BitPrunePreserveQuantizeScheme())
  except (ValueError, RuntimeError) as err:  # e.g. a layer with no QuantizeConfig
    raise NotSupported('quantization-aware training', err) from None
  compile_model(quantized, family, learning_rate)
  quantized.fit(train, epochs=1, steps_per_epoch=steps, verbose=0)
  return quantized


def kernel_sparsity(model: tf.keras.Model) -> Dict[str, float]:
  """Fraction of exact zeros in each Dense/Conv2D kernel."""
  return {layer.name: float(np.mean(layer.kernel.numpy() == 0))
          for layer in model.layers if isinstance(layer, PRUNABLE)}
