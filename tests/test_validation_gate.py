"""Bad data stops the run at the validation gate: nothing is trained or pushed."""
import csv

import pytest

from pipeline import datasets
from pipeline.summary import read_latest_run
from tests.conftest import forge_run, write_config


@pytest.fixture(scope='module')
def wrong_type_run(tmp_path_factory):
  work = tmp_path_factory.mktemp('bad_type')
  source = datasets.resolve('penguins', None, 'csv', work)
  rows = list(csv.DictReader(open(source.input_base / source.pattern)))
  for row in rows[::3]:
    row['bill_length_mm'] = 'forty-two'
  bad_csv = work / 'penguins_bad.csv'
  with open(bad_csv, 'w', newline='') as out:
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
  config = write_config(work / 'bad.yaml', 'penguin',
                        pipeline={'root': str(work / 'root')},
                        data={'builtin': None, 'path': str(bad_csv), 'dataset': 'penguins'},
                        outputs={'serving_dir': str(work / 'serving')})
  return forge_run(config), bad_csv


def test_stops_with_the_column_named_and_a_gate_exit_code(wrong_type_run):
  run, bad_csv = wrong_type_run
  assert run.returncode == 3, run.output
  assert 'FAILED in DataValidationGate' in run.output
  assert "column 'bill_length_mm'" in run.output
  assert 'Expected data of type: FLOAT' in run.output and 'forty-two' in run.output
  assert str(bad_csv) in run.output


def test_nothing_trained_or_pushed(wrong_type_run):
  run, _ = wrong_type_run
  states = read_latest_run(run.config.metadata_path).states
  assert 'Transform' not in states and 'Trainer' not in states
  serving_dir = run.config.outputs.serving_dir
  assert not serving_dir.exists() or not any(serving_dir.rglob('saved_model.pb'))

