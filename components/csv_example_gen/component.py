"""CsvExampleGen: TFX's component (same spec, driver, outputs and id), run by the
bounded-memory executor in executor.py."""
from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.dsl.components.base import executor_spec

from components.csv_example_gen import executor


class CsvExampleGen(FileBasedExampleGen):
  """Reads CSV files with a header into split, shuffled tf.Examples."""
  EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)
