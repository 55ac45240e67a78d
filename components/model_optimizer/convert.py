"""TFLite conversion of a SavedModel's `mobile` signature (raw features in, probabilities
out), one converter setting per variant.

Only TFLite's builtin ops are allowed. A graph that needs TensorFlow ops TFLite lacks (Flex /
Select TF ops, which add megabytes to an app and are missing from the plain LiteRT runtime)
is not converted; the error names those ops so the preprocessing can be changed, for
instance to precomputed vocabularies and scales.
"""
from __future__ import annotations

import re
from typing import Callable, Dict, Iterable, List

import numpy as np
import tensorflow as tf

from base.signature_names import MOBILE

class NeedsTensorFlowOps(ValueError):
  """The graph uses TensorFlow ops that TFLite's builtin op set lacks."""

  def __init__(self, ops: List[str]):
    self.ops = ops
    super().__init__(
        'the mobile graph needs TensorFlow ops that TFLite lacks: ' + ', '.join(ops)
        + '. Keep them out of the transform graph and model (models/common/preprocessing.py '
        'and models/common/layers.py have builtin-only equivalents) to build TFLite variants.')


class ConversionFailed(ValueError):
  """The converter refused one variant; the others may still build."""

  def __init__(self, variant: str, error: Exception):
    errors = re.findall(r"error: (?:loc\(.*?\)\): )?('[^\n]+)", str(error))
    reason = errors[0] if errors else str(error).strip().splitlines()[0]
    super().__init__(f'the TFLite converter refused {variant}: {reason[:300]}')


def _strings_as_bytes(rows: Callable[[], Iterable[Dict[str, np.ndarray]]]):
  """The rows with each string column as a fixed-width bytes array (numpy 'S').

  TFLite's calibrator copies no strings out of numpy object arrays (tf.string's numpy
  type): each string input reaches the calibration run empty. Measured on a probe graph
  (tests/test_model_optimizer.py): an EQUAL on a string input calibrated to 0 for every row.
  On taxi the vocabulary features read as missing during calibration, the head's logit
  range was calibrated without payment_type (the feature that predicts tips) and int8
  collapsed to one class in about half the runs. A bytes array is copied in full.
  """
  def fixed_width():
    for row in rows():
      yield {name: values.astype(np.bytes_) if values.dtype == object else values
             for name, values in row.items()}
  return fixed_width


def _configure(converter: tf.lite.TFLiteConverter, variant: str,
               representative_rows: Callable[[], Iterable[Dict[str, np.ndarray]]],
               int8_io: bool) -> None:
  converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
  if variant == 'float32':
    return
  # Not EXPERIMENTAL_SPARSITY: its sparse FULLY_CONNECTED fails in LiteRT's default XNNPack
  # delegate. Pruned weights stay dense zeros, which the app's download compresses.
  converter.optimizations = [tf.lite.Optimize.DEFAULT]
  if variant == 'float16':
    converter.target_spec.supported_types = [tf.float16]
  elif variant.endswith('int8'):
    # Integer weights and activations, calibrated on training rows. Ops with no int8
    # kernel (string lookups in a transform graph) stay float, unless int8_io asks for a
    # model that is integer end to end.
    converter.representative_dataset = _strings_as_bytes(representative_rows)
    if int8_io:
      converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
      converter.inference_input_type = tf.int8
      converter.inference_output_type = tf.int8


def convert(saved_model_dir: str, variant: str,
            representative_rows: Callable[[], Iterable[Dict[str, np.ndarray]]],
            int8_io: bool = False) -> bytes:
  converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir, signature_keys=[MOBILE])
  _configure(converter, variant, representative_rows, int8_io)
  try:
    return converter.convert()
  except Exception as err:  # the converter raises ConverterError or a bare Exception
    missing = re.search(r'TF Select ops: ([^\n]+)', str(err))
    if missing:
      raise NeedsTensorFlowOps([op.strip() for op in missing.group(1).split(',')]) from None
    raise ConversionFailed(variant, err) from None
