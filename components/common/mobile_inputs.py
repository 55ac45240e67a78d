"""Raw rows as what the mobile (TFLite) signature takes and what an app hands the Task
Library: raw feature columns, an RGB image of an image family, the token ids of a text
family (from the SavedModel's own transform, the ids the phone's tokenizer must match)."""
from __future__ import annotations

from typing import Dict, List

import numpy as np
import tensorflow as tf

from base.signature_names import MOBILE, TRANSFORM_FEATURES
from components.common.examples import raw_columns
from models.common.family import Family, ImageInput, TokenInput, transformed_name


def input_specs(saved_model) -> Dict[str, tf.TensorSpec]:
  return saved_model.signatures[MOBILE].structured_input_signature[1]


def _images(rows: List[bytes], kind: ImageInput) -> np.ndarray:
  """[rows, height, width, 3] float32: the grey levels in each of the three channels."""
  (pixels,) = raw_columns(rows, {kind.feature: tf.TensorSpec([None, None], tf.float32)}).values()
  grey = pixels.reshape(-1, kind.height, kind.width, 1)
  return np.repeat(grey, 3, axis=3)


def columns(saved_model, rows: List[bytes], family: Family) -> Dict[str, np.ndarray]:
  """The mobile signature's inputs for serialized examples `rows`."""
  kind = family.mobile_input
  specs = input_specs(saved_model)
  if isinstance(kind, TokenInput):
    transformed = saved_model.signatures[TRANSFORM_FEATURES](examples=tf.constant(rows))
    ids = transformed[transformed_name(kind.feature)].numpy()
    return {name: ids.astype(spec.dtype.as_numpy_dtype) for name, spec in specs.items()}
  if isinstance(kind, ImageInput):
    return {name: _images(rows, kind) for name in specs}
  return raw_columns(rows, specs)


def task_library_inputs(rows: List[bytes], family: Family) -> list:
  """What an app passes the Task Library: 8-bit RGB images (nested lists) or raw strings."""
  kind = family.mobile_input
  if isinstance(kind, ImageInput):
    return np.clip(np.round(_images(rows, kind)), 0, 255).astype(np.uint8).tolist()
  if isinstance(kind, TokenInput):
    (texts,) = raw_columns(rows, {kind.feature: tf.TensorSpec([None], tf.string)}).values()
    return [text.decode('utf-8', errors='replace') for text in texts]
  raise ValueError(f'family {family.name!r} has no Task Library input (a table: use the '
                   'LiteRT interpreter)')
