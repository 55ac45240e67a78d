"""Bad input stops the run with a message naming the file (and line or column) and the fix,
a non-zero exit code, and no push: the served model stays as it was. tests/README.md lists
every case and what the user sees."""
import csv
import hashlib
from pathlib import Path

import pytest

from pipeline import datasets
from pipeline.preflight import DataFileError, check
from tests.conftest import PROJECT_DIR, forge_run, write_config

BAD = PROJECT_DIR / 'tests' / 'data' / 'bad'
EXIT_DATA = 3


@pytest.mark.parametrize('name, expected', [
    ('empty.csv', 'the file is empty'),
    ('header_only.csv', 'has a header (species, island, bill_length_mm) but no rows'),
    ('ragged_rows.csv', 'line 3 has 4 fields, the header has 3'),
    ('unclosed_quote.csv', 'cannot be parsed as CSV'),
    ('latin1.csv', 'line 2 is not UTF-8 text (byte 0xe9). Re-save the file as UTF-8'),
])
def test_malformed_csv_is_named_with_its_line(name, expected):
  with pytest.raises(DataFileError) as refused:
    check(BAD / name, 'csv')
  assert str(refused.value).startswith(f'{BAD / name}: ')
  assert expected in str(refused.value)


def test_directory_without_files_is_refused(tmp_path):
  with pytest.raises(DataFileError, match='holds no files'):
    check(tmp_path, 'csv')


def test_files_with_different_headers_are_refused(tmp_path):
  (tmp_path / 'a.csv').write_text('x,y\n1,2\n')
  (tmp_path / 'b.csv').write_text('y,x\n2,1\n')
  with pytest.raises(DataFileError, match=r'b.csv: its header \(y, x\) differs'):
    check(tmp_path, 'csv')


def test_empty_tfrecord_file_is_refused(tmp_path):
  (tmp_path / 'data.tfrecord').write_bytes(b'')
  with pytest.raises(DataFileError, match='should hold tf.Example records'):
    check(tmp_path, 'tfrecord')


def _tree_digest(root: Path) -> str:
  digest = hashlib.sha256()
  for path in sorted(root.rglob('*')):
    digest.update(str(path.relative_to(root)).encode())
    if path.is_file():
      digest.update(path.read_bytes())
  return digest.hexdigest()


@pytest.fixture
def served(tmp_path):
  """A serving directory holding an earlier version, as after a good run."""
  version = tmp_path / 'serving' / 'penguin' / '1700000000'
  version.mkdir(parents=True)
  (version / 'saved_model.pb').write_bytes(b'an earlier model')
  return tmp_path / 'serving'


def _penguin_config(tmp_path, serving):
  return write_config(tmp_path / 'penguin.yaml', 'penguin',
                      pipeline={'root': str(tmp_path / 'root')},
                      outputs={'serving_dir': str(serving)})


def test_malformed_file_stops_forge_run_before_anything_runs(tmp_path, served):
  before = _tree_digest(served)
  run = forge_run(_penguin_config(tmp_path, served), '--data-path', str(BAD / 'ragged_rows.csv'))
  assert run.returncode == EXIT_DATA, run.output
  assert f'{BAD / "ragged_rows.csv"}: line 3 has 4 fields' in run.output
  assert 'the served model is unchanged' in run.output
  assert not (tmp_path / 'root' / 'metadata.sqlite').exists()
  assert _tree_digest(served) == before


@pytest.fixture(scope='module')
def schema_violations(tmp_path_factory):
  """One penguin CSV with a problem in each of several columns, through `forge run`: the
  DataValidationGate reports every column at fault in one message."""
  work = tmp_path_factory.mktemp('schema_violations')
  source = datasets.resolve('penguins', None, 'csv', work / 'data')
  with open(source.input_base / source.pattern, newline='') as f:
    rows = list(csv.DictReader(f))
  for index, row in enumerate(rows):
    del row['island']  # a required column is missing
    row['ring_size'] = '3'  # a column the schema does not know
    row['sex'] = ''  # every value missing
    if index == 5:
      row['bill_length_mm'] = 'about forty'  # text in a numeric column
      row['body_mass_g'] = 'inf'  # not an integer
      row['species'] = 'Emperor'  # a label never seen
  bad = work / 'violations.csv'
  with open(bad, 'w', newline='') as f:
    writer = csv.DictWriter(f, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
  serving = work / 'serving'
  version = serving / 'penguin' / '1700000000'
  version.mkdir(parents=True)
  (version / 'saved_model.pb').write_bytes(b'an earlier model')
  before = _tree_digest(serving)
  run = forge_run(_penguin_config(work, serving), '--data-path', str(bad))
  return run, bad, _tree_digest(serving) == before


@pytest.mark.parametrize('column, reason', [
    ('island', 'missing'),
    ('ring_size', 'New column'),
    ('sex', 'not present in any examples'),
    ('bill_length_mm', 'STRING'),
    ('body_mass_g', 'FLOAT'),
    ('species', 'Emperor'),
])
def test_schema_violation_names_file_and_column(schema_violations, column, reason):
  run, bad, serving_unchanged = schema_violations
  assert run.returncode == EXIT_DATA, run.output
  assert f'Data validation failed for {bad}' in run.output
  lines = [line for line in run.output.splitlines() if f"column '{column}'" in line]
  assert lines, run.output
  assert any(reason.lower() in line.lower() for line in lines), lines
  assert 'nothing was trained or pushed' in run.output
  assert serving_unchanged
