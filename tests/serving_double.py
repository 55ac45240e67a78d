"""TEST DOUBLE for TF Serving: the model server binary cannot be installed here, so tests
stand up this stand-in. It serves a SavedModel's signatures through the real
PredictionService gRPC interface (tensorflow-serving-api) and TF Serving's REST predict
route, the two ways `forge predict` talks to a server, with version labels as models.config
assigns them (`/v1/models/<name>/labels/<label>`, ModelSpec.version_label)."""
import base64
import http.server
import json
import re
import threading
from concurrent import futures

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from pipeline.predict import plain


class _Model:

  def __init__(self, model_dir):
    self.loaded = tf.saved_model.load(str(model_dir), tags=['serve'])

  def run(self, signature_name, inputs):
    signature = self.loaded.signatures[signature_name]
    specs = signature.structured_input_signature[1]
    tensors = {name: tf.constant(np.asarray(values), dtype=specs[name].dtype)
               for name, values in inputs.items()}
    return {name: value.numpy() for name, value in signature(**tensors).items()}


class _PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):

  def __init__(self, models, model_name, served):
    self._models, self._model_name, self._served = models, model_name, served

  def Predict(self, request, context):  # noqa: N802
    if request.model_spec.name != self._model_name:
      context.abort(grpc.StatusCode.NOT_FOUND, f'Servable not found: {request.model_spec.name}')
    label = request.model_spec.version_label or None
    if label not in self._models:
      context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                    f'Unrecognized servable version label: {label}')
    self._served.append(('grpc', label))
    inputs = {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}
    outputs = self._models[label].run(request.model_spec.signature_name or 'serving_default',
                                      inputs)
    response = predict_pb2.PredictResponse()
    for name, values in outputs.items():
      response.outputs[name].CopyFrom(tf.make_tensor_proto(values))
    return response


def _decode(value):
  return base64.b64decode(value['b64']) if isinstance(value, dict) else value


def _rest_handler(models, model_name, served):
  route = re.compile(rf'/v1/models/{re.escape(model_name)}(?:/labels/([\w-]+))?:predict')

  class Handler(http.server.BaseHTTPRequestHandler):
    requests = []

    def do_POST(self):  # noqa: N802
      body = json.loads(self.rfile.read(int(self.headers['Content-Length'])))
      self.requests.append((self.path, body))
      match = route.fullmatch(self.path)
      if not match or match.group(1) not in models:
        error = (f'Unrecognized servable version label: {match.group(1)}' if match
                 else f'Servable not found: {self.path}')
        self._answer(404, {'error': error})  # TF Serving's REST error body
        return
      model = models[match.group(1)]
      served.append(('rest', match.group(1)))
      names = body['instances'][0].keys()
      inputs = {n: [_decode(i[n]) for i in body['instances']] for n in names}
      outputs = model.run(body.get('signature_name', 'serving_default'), inputs)
      predictions = [{name: plain(values[i]) for name, values in outputs.items()}
                     for i in range(len(body['instances']))]
      self._answer(200, {'predictions': predictions})

    def _answer(self, code, body):
      payload = json.dumps(body).encode()
      self.send_response(code)
      self.send_header('Content-Type', 'application/json')
      self.send_header('Content-Length', str(len(payload)))
      self.end_headers()
      self.wfile.write(payload)

    def log_message(self, *args):
      pass

  return Handler


class ServingDouble:
  """Context manager: gRPC on `grpc_address`, REST on `rest_url`, both on 127.0.0.1.
  `labels` maps version labels to other model directories; `served` records (transport,
  label or None) per request."""

  def __init__(self, model_dir, model_name, labels=None):
    model = _Model(model_dir)
    self._models = {None: model, **{label: _Model(path) if path != model_dir else model
                                    for label, path in (labels or {}).items()}}
    self._model_name = model_name
    self.served = []

  def __enter__(self):
    self._grpc = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        _PredictionService(self._models, self._model_name, self.served), self._grpc)
    port = self._grpc.add_insecure_port('127.0.0.1:0')
    self._grpc.start()
    self.grpc_address = f'127.0.0.1:{port}'
    self.rest_handler = _rest_handler(self._models, self._model_name, self.served)
    self._http = http.server.HTTPServer(('127.0.0.1', 0), self.rest_handler)
    threading.Thread(target=self._http.serve_forever, daemon=True).start()
    self.rest_url = f'http://127.0.0.1:{self._http.server_port}'
    return self

  def __exit__(self, *exc):
    self._http.shutdown()
    self._grpc.stop(grace=None)
