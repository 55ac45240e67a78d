"""TF Serving's warm-up file: `assets.extra/tf_serving_warmup_requests`, a TFRecord of
PredictionLog that the server replays when it loads a version, so the first real request
does not pay for graph initialisation."""
from __future__ import annotations

import math
import posixpath
from typing import Dict, Iterator, List

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

from models.common.signature_names import SERVING_DEFAULT, SERVING_RAW

WARMUP_FILE = 'assets.extra/tf_serving_warmup_requests'


def iter_examples(examples_uri: str, split: str, count: int = -1) -> Iterator[bytes]:
  """Serialized examples of an ExampleGen split, one at a time (the first `count`; -1: all)."""
  files = sorted(tf.io.gfile.glob(f'{examples_uri}/Split-{split}/*'))
  records = tf.data.TFRecordDataset(files, compression_type='GZIP').take(count)
  # In batches: one eager step per record took 18x longer (0.84 s for 10k taxi rows).
  for batch in records.batch(4096).prefetch(1):
    yield from batch.numpy()


def read_examples(examples_uri: str, split: str, count: int) -> List[bytes]:
  """The first `count` serialized examples of an ExampleGen split."""
  return list(iter_examples(examples_uri, split, count))


def without_label(serialized: bytes, label_key: str) -> bytes:
  """The example without its label (as a client sends it), serialized deterministically."""
  example = tf.train.Example.FromString(serialized)
  if label_key in example.features.feature:
    del example.features.feature[label_key]
  return example.SerializeToString(deterministic=True)


def eval_examples(examples_uri: str, label_key: str, count: int) -> List[bytes]:
  """The first `count` serialized eval examples, without the label."""
  return [without_label(record, label_key)
          for record in iter_examples(examples_uri, 'eval', count)]


def raw_columns(examples: List[bytes], input_specs: Dict[str, tf.TensorSpec]) -> Dict[str, np.ndarray]:
  """One column per raw-signature input; a missing value becomes '' or NaN (0 for ints)."""
  parsed = [tf.train.Example.FromString(e).features.feature for e in examples]
  columns = {}
  for name, spec in input_specs.items():
    values = []
    for features in parsed:
      feature = features.get(name)
      kind = feature.WhichOneof('kind') if feature is not None else None
      present = list(getattr(feature, kind).value) if kind else []
      if spec.shape.rank == 2:  # a fixed-length list, e.g. pixels
        values.append(present)
      elif spec.dtype == tf.string:
        values.append(present[0] if present else b'')
      elif spec.dtype.is_floating:
        values.append(present[0] if present else math.nan)
      else:
        values.append(present[0] if present else 0)
    columns[name] = np.array(values, dtype=spec.dtype.as_numpy_dtype)
  return columns


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
