"""A SavedModel's signatures read from saved_model.pb, without loading the model (which
would restore every function and variable: a second and some memory, for names)."""
from __future__ import annotations

import posixpath
from typing import Dict, Tuple

import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2


def _specs(tensors) -> Dict[str, tf.TensorSpec]:
  return {name: tf.TensorSpec(tf.TensorShape(info.tensor_shape), tf.as_dtype(info.dtype))
          for name, info in tensors.items()}


def signature_io(model_dir: str, signature: str
                 ) -> Tuple[Dict[str, tf.TensorSpec], Dict[str, tf.TensorSpec]]:
  """(inputs, outputs) of one signature."""
  with tf.io.gfile.GFile(posixpath.join(model_dir, 'saved_model.pb'), 'rb') as source:
    saved_model = saved_model_pb2.SavedModel.FromString(source.read())
  definition = saved_model.meta_graphs[0].signature_def[signature]
  return _specs(definition.inputs), _specs(definition.outputs)


def signature_inputs(model_dir: str, signature: str) -> Dict[str, tf.TensorSpec]:
  return signature_io(model_dir, signature)[0]
