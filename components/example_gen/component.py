"""TFX's CsvExampleGen and ImportExampleGen (same spec, driver, parameters, outputs and id),
run by the bounded-memory executors in executor.py."""
from typing import Optional

from tfx.components.example_gen import component as tfx_component
from tfx.components.example_gen.csv_example_gen import component as tfx_csv
from tfx.components.example_gen.import_example_gen import component as tfx_import
from tfx.dsl.components.base import executor_spec
from tfx.proto import example_gen_pb2

from components.example_gen import executor


class CsvExampleGen(tfx_csv.CsvExampleGen):
  """TFX's CsvExampleGen, plus the custom_config its base class takes (TFX's subclass
  leaves it out): the executor reads the CSV delimiter and the label whose empty rows it
  drops from it (executor.custom_config builds one)."""
  EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.CsvExecutor)

  def __init__(self, input_base=None, input_config=None, output_config=None,
               range_config=None,
               custom_config: Optional[example_gen_pb2.CustomConfig] = None):
    tfx_component.FileBasedExampleGen.__init__(  # pylint: disable=non-parent-init-called
        self, input_base=input_base, input_config=input_config,
        output_config=output_config, range_config=range_config, custom_config=custom_config)


class ImportExampleGen(tfx_import.ImportExampleGen):
  """TFX's ImportExampleGen, plus custom_config as for CsvExampleGen."""
  EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.ImportExecutor)

  def __init__(self, input_base=None, input_config=None, output_config=None,
               range_config=None, payload_format=example_gen_pb2.FORMAT_TF_EXAMPLE,
               custom_config: Optional[example_gen_pb2.CustomConfig] = None):
    tfx_component.FileBasedExampleGen.__init__(  # pylint: disable=non-parent-init-called
        self, input_base=input_base, input_config=input_config,
        output_config=output_config, range_config=range_config,
        output_data_format=payload_format, custom_config=custom_config)
