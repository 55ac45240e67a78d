"""TF Serving's MonitoringConfig and BatchingParameters messages, which the
tensorflow-serving-api package does not ship (it has the client APIs and
model_server_config only). Declared here field for field from TF Serving's own .proto files,
so the --monitoring_config_file and --batching_parameters_file text protos are built from
messages, as models.config is:

  tensorflow_serving/config/monitoring_config.proto (PrometheusConfig, MonitoringConfig)
  tensorflow_serving/servables/tensorflow/session_bundle_config.proto (BatchingParameters)

at tensorflow/serving 9d981c5c (2026-07-30); tests/test_operate.py checks the field numbers
and types against those files' text when the source is at hand.
"""
from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, wrappers_pb2

_FIELD = descriptor_pb2.FieldDescriptorProto
_WRAPPERS = 'google/protobuf/wrappers.proto'


def _field(name: str, number: int, kind: int, type_name: str = '',
           repeated: bool = False) -> _FIELD:
  field = _FIELD(name=name, number=number, type=kind,
                 label=_FIELD.LABEL_REPEATED if repeated else _FIELD.LABEL_OPTIONAL)
  if type_name:
    field.type_name = type_name
  return field


def _monitoring_file() -> descriptor_pb2.FileDescriptorProto:
  proto = descriptor_pb2.FileDescriptorProto(
      name='tensorflow_serving/config/monitoring_config.proto',
      package='tensorflow.serving', syntax='proto3')
  proto.message_type.add(name='PrometheusConfig', field=[
      _field('enable', 1, _FIELD.TYPE_BOOL), _field('path', 2, _FIELD.TYPE_STRING)])
  proto.message_type.add(name='MonitoringConfig', field=[
      _field('prometheus_config', 1, _FIELD.TYPE_MESSAGE, '.tensorflow.serving.PrometheusConfig')])
  return proto


def _batching_file() -> descriptor_pb2.FileDescriptorProto:
  proto = descriptor_pb2.FileDescriptorProto(
      name='tensorflow_serving/servables/tensorflow/session_bundle_config.proto',
      package='tensorflow.serving', syntax='proto3', dependency=[_WRAPPERS])
  int64 = (_FIELD.TYPE_MESSAGE, '.google.protobuf.Int64Value')
  proto.message_type.add(name='BatchingParameters', field=[
      _field('max_batch_size', 1, *int64),
      _field('batch_timeout_micros', 2, *int64),
      _field('max_enqueued_batches', 3, *int64),
      _field('num_batch_threads', 4, *int64),
      _field('thread_pool_name', 5, _FIELD.TYPE_MESSAGE, '.google.protobuf.StringValue'),
      _field('allowed_batch_sizes', 6, _FIELD.TYPE_INT64, repeated=True),
      _field('pad_variable_length_inputs', 7, _FIELD.TYPE_BOOL),
      _field('enable_large_batch_splitting', 8, _FIELD.TYPE_MESSAGE,
             '.google.protobuf.BoolValue'),
      _field('max_execution_batch_size', 9, *int64),
  ])
  return proto


def _messages():
  # A pool of our own: the day tensorflow-serving-api ships these files, the default pool
  # holds its copies and nothing clashes.
  pool = descriptor_pool.DescriptorPool()
  pool.AddSerializedFile(wrappers_pb2.DESCRIPTOR.serialized_pb)
  for file_proto in (_monitoring_file(), _batching_file()):
    pool.Add(file_proto)
  factory = message_factory.MessageFactory(pool)
  return (factory.GetPrototype(pool.FindMessageTypeByName(f'tensorflow.serving.{name}'))
          for name in ('MonitoringConfig', 'BatchingParameters'))


MonitoringConfig, BatchingParameters = _messages()
