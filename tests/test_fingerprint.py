"""Caches never reuse stale work: each custom component's cache key holds a digest of its
executor's source and of every project module it imports, so an edit re-runs it."""
import shutil

from components.common.fingerprint import code_fingerprint, project_modules
from tests.conftest import PROJECT_DIR, write_config


def _copy(tmp_path):
  for package in ('base', 'components', 'models', 'pipeline'):
    shutil.copytree(PROJECT_DIR / package, tmp_path / package,
                    ignore=shutil.ignore_patterns('__pycache__'))
  return tmp_path


def test_editing_an_imported_module_changes_only_its_importers_keys(tmp_path):
  root = _copy(tmp_path)
  pusher, gate = 'components.serving_pusher.executor', 'components.validation_gate.component'
  before = {m: code_fingerprint(m, root=root) for m in (pusher, gate)}
  assert before == {m: code_fingerprint(m) for m in (pusher, gate)}  # same source, same key
  staging = root / 'components' / 'common' / 'staging.py'
  staging.write_text(staging.read_text() + '\n# an edit\n')
  assert code_fingerprint(pusher, root=root) != before[pusher]  # imported by the Pusher
  assert code_fingerprint(gate, root=root) == before[gate]  # not by the gate
  drift = root / 'components' / 'validation_gate' / 'drift.py'
  drift.write_text(drift.read_text().replace('SPLIT = ', 'SPLIT  = '))
  assert code_fingerprint(gate, root=root) != before[gate]


def test_the_walk_follows_project_imports_only():
  files = {str(p.relative_to(PROJECT_DIR)) for p in
           project_modules('components.mobile_pusher.executor')}
  assert {'components/mobile_pusher/executor.py', 'components/common/staging.py',
          'components/common/tflite_measure.py'} <= files
  assert all(name.startswith(('components/', 'models/', 'pipeline/')) for name in files)


def test_every_custom_component_carries_its_key(tmp_path):
  from pipeline.config import load_config
  from pipeline.pipeline import create_pipeline
  config = load_config(write_config(tmp_path / 'c.yaml', 'penguin',
                                    pipeline={'root': str(tmp_path / 'root')},
                                    optimization={'enabled': True}))
  components = {c.id: c for c in create_pipeline(config).components}
  for name in ('Pusher', 'ModelOptimizer', 'MobilePusher'):
    assert len(components[name].exec_properties['executor_fingerprint']) == 16, name
  for name in ('DataValidationGate', 'LeakageCheck'):
    assert len(components[name].exec_properties['code_fingerprint']) == 16, name
  assert 'executor_fingerprint' in str(components['CsvExampleGen'].exec_properties[
      'custom_config'])
