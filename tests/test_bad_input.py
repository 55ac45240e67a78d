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
    ('unclosed_quote.csv', 'that no later line closes'),
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


@pytest.mark.parametrize('content, expected', [
    (b'a,b,a\n1,2,3\n', "the header names column 'a' twice, at positions 1 and 3"),
    (b'a;b;c\n1;2;3\n', "looks semicolon-separated. Set data.delimiter: ';'"),
    (b'a\tb\tc\n1\t2\t3\n', "looks tab-separated. Set data.delimiter: '\\t'"),
    (b',a,b\n0,1,2\n', 'column 1 of the header has no name'),
    (b'a,b,\n1,2,\n', 'column 3 of the header has no name'),
    (b'a/b,a_b\n1,2\n', "columns 'a/b' and 'a_b' would both be read as 'a_b'"),
    ('a,b\n1,2\n'.encode('utf-16'), 'the file is UTF-16 text'),
    (b'a,b\n1,"2\n3,4\n', 'line 2 has a quote (") that no later line closes'),
    (b'a,b\n1,x"y\n', 'line 2 has a quote (") that no later line closes'),
    (b'a,b\n1,"' + b'x' * (17 * 2**20) + b'"\n', 'a cell holds at most 16 MiB'),
])
def test_spreadsheet_and_database_exports_are_named_with_the_fix(tmp_path, content, expected):
  path = tmp_path / 'data.csv'
  path.write_bytes(content)
  with pytest.raises(DataFileError) as refused:
    check(path, 'csv')
  assert str(refused.value).startswith(f'{path}: ')
  assert expected in str(refused.value)


@pytest.mark.parametrize('name, content, delimiter', [
    ('bom.csv', b'\xef\xbb\xbfa,b\n1,2\n', ','),  # Excel's "CSV UTF-8"
    ('crlf.csv', b'a,b\r\n1,2\n3,4\r\n', ','),  # mixed line endings
    ('semicolons.csv', b'a;b\n1,5;2\n', ';'),
    ('tabs.tsv', b'a\tb\n1\t2\n', '\t'),
    ('quoted.csv', b'a,b\n1,"x, ""y""\nz"\n', ','),  # a quoted cell with a line break
])
def test_valid_variants_pass_preflight(tmp_path, name, content, delimiter):
  path = tmp_path / name
  path.write_bytes(content)
  check(path, 'csv', delimiter)


def test_gzipped_csv_is_read_and_a_truncated_one_refused(tmp_path):
  import gzip
  whole = tmp_path / 'data.csv.gz'
  whole.write_bytes(gzip.compress(b'a,b\n' + b'1,2\n' * 1000))
  check(whole, 'csv')
  cut = tmp_path / 'cut.csv.gz'
  cut.write_bytes(whole.read_bytes()[:30])
  with pytest.raises(DataFileError, match='cannot be read to its end'):
    check(cut, 'csv')


def _penguin_text(tmp_path) -> str:
  source = datasets.resolve('penguins', None, 'csv', tmp_path / 'data')
  return (source.input_base / source.pattern).read_text(encoding='utf-8')


def test_duplicate_column_stops_forge_run(tmp_path, served):
  lines = _penguin_text(tmp_path).splitlines()
  bad = tmp_path / 'duplicate.csv'
  bad.write_text('\n'.join([lines[0] + ',bill_length_mm']
                           + [line + ',1' for line in lines[1:]]) + '\n')
  before = _tree_digest(served)
  run = forge_run(_penguin_config(tmp_path, served), '--data-path', str(bad))
  assert run.returncode == EXIT_DATA, run.output
  assert (f"{bad}: the header names column 'bill_length_mm' twice, at positions 3 and 9"
          in run.output)
  assert _tree_digest(served) == before


def test_one_row_stops_before_transform_with_rows_per_split(tmp_path, served):
  lines = _penguin_text(tmp_path).splitlines()
  tiny = tmp_path / 'one_row.csv'
  tiny.write_text(lines[0] + '\n' + lines[1] + '\n')
  before = _tree_digest(served)
  run = forge_run(_penguin_config(tmp_path, served), '--data-path', str(tiny))
  assert run.returncode == EXIT_DATA, run.output
  assert f'Too few rows in {tiny}' in run.output
  assert 'Rows per split: eval 1, train 0' in run.output or \
         'Rows per split: eval 0, train 1' in run.output, run.output
  assert '(minimum 20)' in run.output and 'data.min_train_rows' in run.output
  assert '> Transform' not in run.output
  assert _tree_digest(served) == before


def test_excel_semicolon_export_runs_with_data_delimiter(tmp_path):
  """UTF-8 with a byte-order mark, ';' between cells, CRLF line ends: what a spreadsheet in
  a European locale saves as "CSV UTF-8". With data.delimiter it trains and is pushed."""
  export = tmp_path / 'export.csv'
  text = _penguin_text(tmp_path).replace(',', ';').replace('\n', '\r\n')
  export.write_bytes(b'\xef\xbb\xbf' + text.encode('utf-8'))
  config = write_config(tmp_path / 'penguin.yaml', 'penguin',
                        pipeline={'root': str(tmp_path / 'root')},
                        data={'builtin': None, 'path': str(export), 'dataset': 'penguins',
                              'delimiter': ';'},
                        training={'epochs': 5, 'train_steps': 250},
                        outputs={'serving_dir': str(tmp_path / 'serving')})
  run = forge_run(config)
  assert run.returncode == 0, run.output
  assert 'Blessed. Pushed to' in run.output


class _ActiveMarkup(__import__('html.parser').parser.HTMLParser):
  """Collects elements that could run code: script tags and on* attributes."""

  def __init__(self):
    super().__init__()
    self.found = []

  def handle_starttag(self, tag, attrs):
    if tag == 'script' or any(name.startswith('on') for name, _ in attrs):
      self.found.append((tag, attrs))


def test_report_shows_markup_from_the_data_as_text_and_cuts_a_huge_cell(tmp_path, served):
  """Values come from user files: a category holding markup is shown as text in the run
  report (the gate names it as an unknown value), never as an element that runs; a 2 MB
  cell is quoted cut to 80 characters with its length, in the message and the report (it
  was printed whole: a 2 MB terminal, a report written in 96 s)."""
  payload = '<img src=x onerror=alert(1)><script>alert(2)</script>'
  huge = 'Dream' + 'x' * 2_000_000
  rows = list(csv.reader(_penguin_text(tmp_path).splitlines()))
  island = rows[0].index('island')
  for row in rows[1:40]:
    row[island] = payload
  rows[41][island] = huge
  bad = tmp_path / 'markup.csv'
  with open(bad, 'w', newline='') as out:
    csv.writer(out).writerows(rows)
  run = forge_run(_penguin_config(tmp_path, served), '--data-path', str(bad))
  assert run.returncode == EXIT_DATA, run.output
  assert len(run.output) < 20_000 and 'Dreamxxx' in run.output
  assert '(2,000,005 characters)' in run.output
  (report,) = (tmp_path / 'root' / 'report').glob('*/index.html')
  html = report.read_text()
  assert '&lt;img src=x onerror=alert(1)&gt;' in html  # shown, escaped
  assert payload not in html
  assert len(html) < 1_000_000 and '(2,000,005 characters)' in html
  parser = _ActiveMarkup()
  parser.feed(html)
  assert parser.found == []


def test_a_label_with_one_class_stops_before_transform_and_the_served_model_stays(tmp_path,
                                                                                   served):
  """Penguins with every other species filtered out upstream: exit 0 and a pushed model that
  could only answer Adelie, before; now the run stops naming the missing classes."""
  rows = list(csv.reader(_penguin_text(tmp_path).splitlines()))
  species = rows[0].index('species')
  adelie = tmp_path / 'adelie.csv'
  with open(adelie, 'w', newline='') as out:
    csv.writer(out).writerows([rows[0]] + [row for row in rows[1:] if row[species] == 'Adelie'])
  before = _tree_digest(served)
  run = forge_run(_penguin_config(tmp_path, served), '--data-path', str(adelie))
  assert run.returncode == EXIT_DATA, run.output
  assert f'The label cannot be learned from {adelie}' in run.output
  assert "lacks the class(es) 'Chinstrap', 'Gentoo'" in run.output
  assert '> Transform' not in run.output
  assert _tree_digest(served) == before
