"""Fuzzing the penguin CSV: a few hundred seeded mutations (bytes flipped, lines cut,
quotes and separators inserted, columns dropped, swapped or duplicated, cells retyped) go
through the cheap part of a run (tests/csv_validation.py: preflight, CsvExampleGen's
parsing and typing, TFDV against the curated schema). Each is either accepted or refused
with a message naming the file and a line or a column; none raises anything else. A sample
of the accepted ones then runs end to end through `forge run`."""
import csv
import io
import random
import re
from pathlib import Path

import pytest
from tensorflow_data_validation.utils.schema_util import load_schema_text

from pipeline import datasets
from tests.conftest import PROJECT_DIR, forge_run, write_config
from tests.csv_validation import validate

MUTANTS = 300
SEED = 20261201


def _rows(text: str):
  return list(csv.reader(io.StringIO(text)))


def _write(rows) -> str:
  out = io.StringIO()
  csv.writer(out, lineterminator='\n').writerows(rows)
  return out.getvalue()


def _flip_bytes(rng, text):
  data = bytearray(text.encode())
  for _ in range(rng.randint(1, 5)):
    data[rng.randrange(len(data))] = rng.randrange(256)
  return bytes(data)


def _cut_line(rng, text):
  lines = text.split('\n')
  index = rng.randrange(1, len(lines) - 1)
  lines[index] = lines[index][:rng.randrange(len(lines[index]) + 1)]
  return '\n'.join(lines)


def _insert(rng, text, chars):
  position = rng.randrange(len(text))
  return text[:position] + rng.choice(chars) + text[position:]


def _columns(rng, text, how):
  rows = _rows(text)
  width = len(rows[0])
  a, b = rng.sample(range(width), 2)
  for row in rows:
    if how == 'drop':
      del row[a]
    elif how == 'swap':
      row[a], row[b] = row[b], row[a]
    elif how == 'duplicate':
      row.append(row[a])
    elif how == 'swap_values':  # header kept: the values move under the wrong names
      if row is not rows[0]:
        row[a], row[b] = row[b], row[a]
  return _write(rows)


def _retype(rng, text):
  rows = _rows(text)
  for _ in range(rng.randint(1, 3)):
    row = rows[rng.randrange(1, len(rows))]
    row[rng.randrange(len(row))] = rng.choice(
        ['abc', '1e999', '-', 'NaN', '3,5', '2007-11-11', '"', '', '99999999999999999999', 'TRUE'])
  return _write(rows)


def _truncate(rng, text):
  return text[:rng.randrange(len(text))]


MUTATIONS = {
    'flip_bytes': _flip_bytes,
    'cut_line': _cut_line,
    'insert_quote': lambda rng, text: _insert(rng, text, ['"', "'"]),
    'insert_separator': lambda rng, text: _insert(rng, text, [',', ';', '\t', '\n', '\r']),
    'drop_column': lambda rng, text: _columns(rng, text, 'drop'),
    'swap_columns': lambda rng, text: _columns(rng, text, 'swap'),
    'duplicate_column': lambda rng, text: _columns(rng, text, 'duplicate'),
    'swap_values': lambda rng, text: _columns(rng, text, 'swap_values'),
    'retype_cells': _retype,
    'truncate': _truncate,
}


def _names_a_place(message: str, path: Path) -> bool:
  if message.startswith(f'{path}: '):  # preflight: the file, then a line or the header
    return True
  return bool(re.match(r"column '[^']+' \(all split\): \S", message))


@pytest.fixture(scope='module')
def outcomes(tmp_path_factory):
  work = tmp_path_factory.mktemp('fuzz')
  source = datasets.resolve('penguins', None, 'csv', work / 'data')
  original = (source.input_base / source.pattern).read_text()
  schema = load_schema_text(str(PROJECT_DIR / 'schemas' / 'penguins' / 'schema.pbtxt'))
  rng = random.Random(SEED)
  results = []
  for index in range(MUTANTS):
    name = rng.choice(sorted(MUTATIONS))
    mutant = MUTATIONS[name](rng, original)
    path = work / f'mutant-{index:03d}-{name}.csv'
    path.write_bytes(mutant if isinstance(mutant, bytes) else mutant.encode())
    results.append((name, path, validate(path, schema)))  # raises on anything unexpected
  return results


def test_every_mutant_is_accepted_or_refused_with_a_place(outcomes):
  for name, path, outcome in outcomes:
    for message in outcome.problems:
      assert _names_a_place(message, path), (name, message)


def test_mutations_are_caught_at_both_levels(outcomes):
  """The generator exercises the checks: some mutants fail preflight, some TFDV, some pass."""
  kinds = [outcome.refused_by for _, _, outcome in outcomes]
  assert kinds.count('preflight') >= 30, kinds.count('preflight')
  assert kinds.count('validation') >= 30, kinds.count('validation')
  assert kinds.count(None) >= 10, kinds.count(None)


def test_known_defects_are_refused(outcomes):
  by_kind = {}
  for name, _, outcome in outcomes:
    by_kind.setdefault(name, []).append(outcome)
  assert all(o.refused_by == 'preflight' and 'twice' in o.problems[0]
             for o in by_kind['duplicate_column'])
  assert all(o.refused_by == 'validation' for o in by_kind['drop_column'])


def test_accepted_mutants_run_end_to_end(outcomes, tmp_path):
  """Two accepted mutants (of different kinds) through `forge run`: no failed component;
  blessed (0) or not blessed by the gates (4), never a crash (1)."""
  accepted, kinds = [], set()
  for name, path, outcome in outcomes:
    if outcome.refused_by is None and name not in kinds:
      accepted.append(path)
      kinds.add(name)
  assert len(accepted) >= 2, kinds
  for index, path in enumerate(accepted[:2]):
    config = write_config(tmp_path / f'mutant{index}.yaml', 'penguin',
                          pipeline={'root': str(tmp_path / f'root{index}')},
                          data={'builtin': None, 'path': str(path), 'dataset': 'penguins'},
                          training={'train_steps': 200, 'epochs': 4},
                          outputs={'serving_dir': str(tmp_path / 'serving')})
    run = forge_run(config)
    assert run.returncode in (0, 4), (path, run.output)
    assert 'Traceback' not in run.output, run.output
