"""Span resolution inside the executor, for orchestrators that run no ExampleGen driver.

TFX resolves `{SPAN}`/`{VERSION}` in the input pattern in ExampleGen's driver: locally in the
launcher, on Vertex AI in the spec's lifecycle.preCacheCheck container
(tfx/orchestration/kubeflow/v2/file_based_example_gen/driver.py). The open-source Kubeflow
Pipelines backend never reads `lifecycle`, so there the executor receives the pattern as
written and no span. This does what that driver does, with the same TFX functions, when no
driver ran (no `span` exec property): newest span (and version), the input fingerprint,
the patterns with the span filled in, and the Examples artifact's span/version/fingerprint.
"""
from __future__ import annotations

from typing import Any, Dict

from tfx.components.example_gen import driver, input_processor, utils
from tfx.proto import example_gen_pb2, range_config_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils


def resolve_when_no_driver_ran(exec_properties: Dict[str, Any],
                               output_dict: Dict[str, list]) -> Dict[str, Any]:
  """`exec_properties` as the driver would have left them (unchanged if one ran)."""
  if exec_properties.get(utils.SPAN_PROPERTY_NAME) is not None:
    return exec_properties
  input_config = example_gen_pb2.Input()
  proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY],
                            input_config)
  range_config = None
  if exec_properties.get(standard_component_specs.RANGE_CONFIG_KEY):
    range_config = range_config_pb2.RangeConfig()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.RANGE_CONFIG_KEY],
                              range_config)
  processor = input_processor.FileBasedInputProcessor(
      exec_properties[standard_component_specs.INPUT_BASE_KEY], input_config.splits,
      range_config)
  span, version = processor.resolve_span_and_version()
  for split in input_config.splits:
    split.pattern = processor.get_pattern_for_span_version(split.pattern, span, version)
  resolved = {**exec_properties,
              utils.SPAN_PROPERTY_NAME: span, utils.VERSION_PROPERTY_NAME: version,
              utils.FINGERPRINT_PROPERTY_NAME: processor.get_input_fingerprint(span, version),
              standard_component_specs.INPUT_CONFIG_KEY: proto_utils.proto_to_json(input_config)}
  examples = artifact_utils.get_single_instance(
      output_dict[standard_component_specs.EXAMPLES_KEY])
  driver.update_output_artifact(resolved, examples.mlmd_artifact)
  examples.span = span  # the Examples type's own property, as ExampleGen's IR driver sets it
  if version is not None:
    examples.version = version
  return resolved
