"""No pickle is read from artifacts: the pipeline's artifacts hold none, and our code never
loads one. A pickle executes code when loaded, so an artifact store anyone can write to must
not feed one to the pipeline."""
import io
import pickletools
import re
from pathlib import Path

import pytest

from tests.conftest import PROJECT_DIR

PICKLE_LOADS = re.compile(r'\b(pickle|dill|cloudpickle|joblib)\.loads?\b|\bimport (dill|joblib)\b'
                          r'|\bnp\.load\([^)]*allow_pickle=True')


def _is_pickle(path: Path) -> bool:
  """Parses the file as a pickle opcode stream without executing it."""
  data = path.read_bytes()
  # A pickle ends with STOP; protocols 2+ start with PROTO (0x80), 0 and 1 with any opcode.
  if len(data) < 2 or not data.endswith(b'.'):
    return False
  try:
    pickletools.dis(data, out=io.StringIO())
  except Exception:  # noqa: BLE001  (not a pickle: any parse error)
    return False
  return True


def test_pickle_detection_works(tmp_path):
  import pickle
  for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
    (tmp_path / f'p{protocol}').write_bytes(pickle.dumps({'x': [1, 2]}, protocol=protocol))
    assert _is_pickle(tmp_path / f'p{protocol}'), protocol
  (tmp_path / 'b').write_bytes(b'\x80\x03' + bytes(200))
  (tmp_path / 'c').write_bytes(b'a,b\n1,2.')
  assert not _is_pickle(tmp_path / 'b') and not _is_pickle(tmp_path / 'c')


@pytest.mark.parametrize('fixture', ['penguin_runs', 'taxi_run'])
def test_no_artifact_is_a_pickle(fixture, request):
  run = request.getfixturevalue(fixture)
  run = run[0] if isinstance(run, tuple) else run
  root = run.config.pipeline.root
  files = [p for p in root.rglob('*') if p.is_file()]
  # The run's artifacts are there: examples, the transform graph, the trained model.
  names = {p.name for p in files}
  assert 'saved_model.pb' in names and any(n.endswith('.gz') for n in names), sorted(names)
  assert len(files) > 30
  assert [p for p in files if _is_pickle(p)] == []


def test_our_code_never_loads_a_pickle():
  sources = [p for folder in ('base', 'pipeline', 'components', 'models', 'kubeflow')
             for p in (PROJECT_DIR / folder).rglob('*.py')]
  offenders = [f'{p}:{n}' for p in sources
               for n, line in enumerate(p.read_text().splitlines(), 1)
               if PICKLE_LOADS.search(line)]
  assert offenders == []
