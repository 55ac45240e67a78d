"""TF Serving's warm-up file: `assets.extra/tf_serving_warmup_requests`, a TFRecord of
PredictionLog that the server replays when it loads a version, so the first real request
does not pay for graph initialisation."""
from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING, Dict, List

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

from base.signature_names import SERVING_DEFAULT, SERVING_RAW
from components.common.examples import iter_examples, raw_columns, without_label

if TYPE_CHECKING:  # the serving check's process imports this module without TFX
  from tfx import types

WARMUP_FILE = 'assets.extra/tf_serving_warmup_requests'


def eval_examples(examples: types.Artifact, label_key: str, count: int) -> List[bytes]:
  """The first `count` serialized eval examples, without the label."""
  return [without_label(record, label_key) for record in iter_examples(examples, 'eval', count)]


def _log(model_name: str, signature: str, inputs: Dict[str, np.ndarray]):
  request = predict_pb2.PredictRequest(
      model_spec=model_pb2.ModelSpec(name=model_name, signature_name=signature))
  for name, values in inputs.items():
    request.inputs[name].CopyFrom(tf.make_tensor_proto(values))
  return prediction_log_pb2.PredictionLog(
      predict_log=prediction_log_pb2.PredictLog(request=request))


def write(model_dir: str, model_name: str, examples: List[bytes],
          raw_input_specs: Dict[str, tf.TensorSpec]) -> str:
  """One request per serving signature, over the same rows."""
  path = posixpath.join(model_dir, WARMUP_FILE)
  tf.io.gfile.makedirs(posixpath.dirname(path))
  with tf.io.TFRecordWriter(path) as writer:
    writer.write(_log(model_name, SERVING_DEFAULT,
                      {'examples': np.array(examples, dtype=object)}).SerializeToString())
    writer.write(_log(model_name, SERVING_RAW,
                      raw_columns(examples, raw_input_specs)).SerializeToString())
  return path


def read(model_dir: str) -> List[prediction_log_pb2.PredictionLog]:
  return [prediction_log_pb2.PredictionLog.FromString(record.numpy())
          for record in tf.data.TFRecordDataset(posixpath.join(model_dir, WARMUP_FILE))]
