"""`forge predict`: send CSV rows to a running TF Serving over gRPC (PredictionService from
tensorflow-serving-api) or REST, through either serving signature and optionally a version
label; or, with no server, to the pushed SavedModel loaded in this process (the same
signatures). The requests and responses can be logged as PredictionLog records."""
from __future__ import annotations

import base64
import csv
import datetime
import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, List, Optional

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_metadata.proto.v0 import schema_pb2
from tensorflow_serving.apis import (model_pb2, predict_pb2, prediction_log_pb2,
                                     prediction_service_pb2_grpc)

from base.names import safe_column
from components.common.examples import raw_columns
from base.signature_names import SERVING_DEFAULT

_DTYPES = {schema_pb2.FLOAT: tf.float32, schema_pb2.INT: tf.int64, schema_pb2.BYTES: tf.string}


def raw_specs(schema: schema_pb2.Schema, label_key: str) -> Dict[str, tf.TensorSpec]:
  """The serving_raw signature's inputs for a schema (see models/common/signatures.py)."""
  specs = {}
  for feature in schema.feature:
    if feature.name == label_key:
      continue
    dtype = _DTYPES[feature.type]
    if dtype == tf.int64 and not feature.HasField('shape'):  # may be missing: NaN says so
      dtype = tf.float64
    specs[feature.name] = tf.TensorSpec([None], dtype, name=feature.name)
  return specs


def _feature(value: str, dtype: tf.DType) -> tf.train.Feature:
  if value == '':
    return None
  if dtype == tf.string:
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode()]))
  if dtype in (tf.int64, tf.float64):  # float64: an integer that may be missing
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(float(value))]))
  return tf.train.Feature(float_list=tf.train.FloatList(value=[float(value)]))


def examples_from_csv(path: Path, specs: Dict[str, tf.TensorSpec],
                      delimiter: str = ',') -> List[bytes]:
  """Serialized tf.Examples, one per row; columns the model does not take are ignored."""
  with open(path, newline='', encoding='utf-8-sig') as source:
    reader = csv.reader(source, delimiter=delimiter)
    # Columns under the names ExampleGen gave them in training.
    header = [safe_column(name) for name in next(reader, [])]
    rows = [dict(zip(header, cells)) for cells in reader if cells]
  if not rows:
    raise ValueError(f'{path}: no rows to send (a header and at least one row are needed)')
  missing = set(specs) - set(rows[0])
  if missing:
    raise ValueError(f'{path}: missing column(s) {sorted(missing)}; the model takes '
                     f'{sorted(specs)}')
  examples = []
  for row in rows:
    features = {name: _feature(row[name].strip(), spec.dtype) for name, spec in specs.items()}
    examples.append(tf.train.Example(features=tf.train.Features(
        feature={k: v for k, v in features.items() if v is not None})).SerializeToString())
  return examples


def _inputs(signature: str, examples: List[bytes], specs) -> Dict[str, np.ndarray]:
  if signature == SERVING_DEFAULT:
    return {'examples': np.array(examples, dtype=object)}
  return raw_columns(examples, specs)


def _request(model_name: str, signature: str, examples: List[bytes], specs,
             label: Optional[str] = None) -> predict_pb2.PredictRequest:
  request = predict_pb2.PredictRequest(
      model_spec=model_pb2.ModelSpec(name=model_name, signature_name=signature))
  if label:
    request.model_spec.version_label = label
  for name, values in _inputs(signature, examples, specs).items():
    request.inputs[name].CopyFrom(tf.make_tensor_proto(values))
  return request


def predict_grpc(address: str, model_name: str, signature: str, examples: List[bytes],
                 specs, timeout: float = 30.0, label: Optional[str] = None) -> List[Dict]:
  request = _request(model_name, signature, examples, specs, label)
  with grpc.insecure_channel(address) as channel:
    response = prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(
        request, timeout=timeout)
  outputs = {name: tf.make_ndarray(proto) for name, proto in response.outputs.items()}
  return [{name: plain(values[i]) for name, values in outputs.items()}
          for i in range(len(examples))]


def predict_in_process(model_dir: str, signature: str, examples: List[bytes],
                       specs) -> List[Dict]:
  """The pushed SavedModel's answers without a server: loaded as TF Serving loads it."""
  loaded = tf.saved_model.load(model_dir, tags=['serve'])
  inputs = {name: tf.constant(values) for name, values in _inputs(signature, examples, specs).items()}
  outputs = {name: values.numpy() for name, values in loaded.signatures[signature](**inputs).items()}
  return [{name: plain(values[i]) for name, values in sorted(outputs.items())}
          for i in range(len(examples))]


def plain(value):
  """numpy values as JSON-ready Python values (bytes decoded)."""
  value = value.tolist() if isinstance(value, (np.ndarray, np.generic)) else value
  if isinstance(value, bytes):
    return value.decode()
  if isinstance(value, list):
    return [plain(v) for v in value]
  return value


def _rest_instance(signature: str, row: int, inputs: Dict[str, np.ndarray]) -> Dict:
  instance = {}
  for name, values in inputs.items():
    value = values[row]
    if signature == SERVING_DEFAULT:  # binary strings travel base64-encoded in JSON
      instance[name] = {'b64': base64.b64encode(value).decode()}
    elif isinstance(value, bytes):
      instance[name] = value.decode()
    elif isinstance(value, (float, np.floating)):
      instance[name] = float(value)  # json writes NaN, which TF Serving's REST API reads
    else:
      instance[name] = value.item()
  return instance


def predict_rest(url: str, model_name: str, signature: str, examples: List[bytes], specs,
                 timeout: float = 30.0, label: Optional[str] = None) -> List[Dict]:
  inputs = _inputs(signature, examples, specs)
  body = {'signature_name': signature,
          'instances': [_rest_instance(signature, i, inputs) for i in range(len(examples))]}
  model = f'{model_name}/labels/{label}' if label else model_name  # TF Serving's REST route
  request = urllib.request.Request(
      f'{url.rstrip("/")}/v1/models/{model}:predict', data=json.dumps(body).encode(),
      headers={'Content-Type': 'application/json'})
  with urllib.request.urlopen(request, timeout=timeout) as response:
    return json.loads(response.read())['predictions']



class ServerError(RuntimeError):
  """TF Serving refused or failed a request; the message has its address and answer."""


def predict_server(grpc_address: Optional[str], rest_url: Optional[str], model_name: str,
                   signature: str, examples: List[bytes], specs,
                   label: Optional[str] = None) -> List[Dict]:
  """Over gRPC when grpc_address is given, else over REST."""
  target = f'/labels/{label}' if label else ''
  try:
    if grpc_address:
      return predict_grpc(grpc_address, model_name, signature, examples, specs, label=label)
    return predict_rest(rest_url, model_name, signature, examples, specs, label=label)
  except grpc.RpcError as err:
    raise ServerError(f'{grpc_address} answered {err.code().name} for model '
                      f'{model_name}{target}: {err.details()}') from None
  except urllib.error.HTTPError as err:
    body = err.read().decode(errors='replace')
    try:
      body = json.loads(body)['error']  # TF Serving's REST errors: {"error": "..."}
    except (ValueError, KeyError, TypeError):
      body = body[:300]
    raise ServerError(f'{rest_url} answered HTTP {err.code} for model {model_name}{target}: '
                      f'{body}') from None
  except urllib.error.URLError as err:
    raise ServerError(f'{rest_url} cannot be reached: {err.reason}') from None


def _tensor(values: list) -> np.ndarray:
  array = np.array(values, dtype=object)
  if array.size and isinstance(array.flat[0], str):  # decoded by `plain`: bytes again
    return array.astype(bytes)
  return np.array(values)


def write_log(directory: Path, model_name: str, signature: str, examples: List[bytes], specs,
              rows: List[Dict], label: Optional[str] = None) -> Path:
  """The request and its response as one PredictionLog (a TFRecord file per call, named by
  the time it was written): what TF Serving's warm-up file holds, with the response too."""
  response = predict_pb2.PredictResponse()
  for name in rows[0] if rows else ():
    response.outputs[name].CopyFrom(tf.make_tensor_proto(_tensor([row[name] for row in rows])))
  log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(
      request=_request(model_name, signature, examples, specs, label), response=response))
  directory.mkdir(parents=True, exist_ok=True)
  stamp = datetime.datetime.now(datetime.timezone.utc).strftime('%Y%m%dT%H%M%S.%fZ')
  path = directory / f'requests-{stamp}-{os.getpid()}.tfrecord'
  with tf.io.TFRecordWriter(str(path)) as writer:
    writer.write(log.SerializeToString())
  return path
