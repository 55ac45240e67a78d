"""The cheap part of a run, in one process: the preflight check, then the rows as
CsvExampleGen reads and types them (components/example_gen/in_process.py) and TFDV's
validation against a schema, as
StatisticsGen, ExampleValidator and DataValidationGate do. No Beam pipeline starts, so a
few hundred files take a minute; the fuzzing test runs every mutant through it."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import List, Optional

import tensorflow_data_validation as tfdv
from tensorflow_data_validation.statistics.stats_impl import generate_statistics_in_memory
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx_bsl.coders import example_coder

from components.example_gen.in_process import csv_examples
from components.validation_gate.executor import describe_anomaly_info
from pipeline.preflight import DataFileError, check


@dataclasses.dataclass
class Outcome:
  refused_by: Optional[str]  # None: accepted; 'preflight' or 'validation'
  problems: List[str]


def validate(path: Path, schema: schema_pb2.Schema, delimiter: str = ',') -> Outcome:
  try:
    check(path, 'csv', delimiter)
  except DataFileError as err:
    return Outcome('preflight', [str(err)])
  examples = [example.SerializeToString() for example in csv_examples([str(path)], delimiter)]
  batch = example_coder.ExamplesToRecordBatchDecoder().DecodeBatch(examples)
  statistics = generate_statistics_in_memory(batch)
  anomalies = tfdv.validate_statistics(statistics, schema)
  problems = describe_anomaly_info(anomalies, 'all')
  return Outcome('validation' if problems else None, problems)
