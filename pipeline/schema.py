"""The curated schema a run imports instead of inferring one with SchemaGen. Its own module:
the CLI, the report and the Kubeflow runner need it without the pipeline definition."""
from __future__ import annotations

from pathlib import Path

from pipeline import datasets
from pipeline.config import ForgeConfig

PROJECT_DIR = Path(__file__).resolve().parent.parent


def curated_schema(config: ForgeConfig) -> Path | None:
  """The schema to import instead of inferring one: data.schema, else
  schemas/<dataset>/schema.pbtxt when the project has one."""
  if config.data.schema_path is not None:
    return config.data.schema_path.resolve()
  builtin = config.data.builtin
  dataset = config.data.dataset or (builtin and (datasets.BUILTIN[builtin].schema or builtin))
  candidate = PROJECT_DIR / 'schemas' / str(dataset) / 'schema.pbtxt'
  return candidate if dataset and candidate.is_file() else None
