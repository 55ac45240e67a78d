"""TFX's CsvExampleGen and ImportExampleGen (same spec, driver, parameters, outputs and id),
run by the bounded-memory executors in executor.py."""
from tfx.components.example_gen.csv_example_gen import component as tfx_csv
from tfx.components.example_gen.import_example_gen import component as tfx_import
from tfx.dsl.components.base import executor_spec

from components.example_gen import executor


class CsvExampleGen(tfx_csv.CsvExampleGen):
  EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.CsvExecutor)


class ImportExampleGen(tfx_import.ImportExampleGen):
  EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.ImportExecutor)
