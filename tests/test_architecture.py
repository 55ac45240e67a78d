"""The layers (pyproject.toml's [tool.importlinter]): pipeline/kubeflow > components >
models > base, components independent of each other, families independent of each other."""
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import PROJECT_DIR

PACKAGES = ('base', 'pipeline', 'kubeflow', 'components', 'models')
LINT_IMPORTS = str(Path(sys.executable).with_name('lint-imports'))


def _lint(root: Path) -> subprocess.CompletedProcess:
  return subprocess.run([LINT_IMPORTS, '--no-cache'], cwd=root, capture_output=True, text=True,
                        env={'PYTHONPATH': str(root), 'PATH': '/usr/bin:/bin'}, check=False)


def test_the_tree_keeps_its_import_contracts():
  linted = _lint(PROJECT_DIR)
  assert linted.returncode == 0, linted.stdout + linted.stderr
  assert 'Contracts: 3 kept, 0 broken.' in linted.stdout


def test_an_upward_or_sideways_import_breaks_a_contract(tmp_path):
  for package in PACKAGES:
    shutil.copytree(PROJECT_DIR / package, tmp_path / package,
                    ignore=shutil.ignore_patterns('__pycache__'))
  shutil.copy(PROJECT_DIR / 'pyproject.toml', tmp_path)
  # What the layers forbid: an executor reading the pipeline's config module ...
  with open(tmp_path / 'components' / 'serving_pusher' / 'executor.py', 'a') as f:
    f.write('\nfrom pipeline import config  # noqa\n')
  # ... and one component reading another's executor.
  with open(tmp_path / 'components' / 'leakage_check' / 'executor.py', 'a') as f:
    f.write('\nfrom components.serving_pusher import warmup  # noqa\n')
  linted = _lint(tmp_path)
  assert linted.returncode != 0
  assert 'components.serving_pusher.executor -> pipeline.config' in linted.stdout
  assert 'components.leakage_check.executor -> components.serving_pusher.warmup' in linted.stdout
  assert 'Contracts: 1 kept, 2 broken.' in linted.stdout
