"""The Makefile's set-up: a clear stop without Python 3.10, no reinstall when nothing changed."""
import subprocess

from tests.conftest import PROJECT_DIR


def _make(*args):
  return subprocess.run(['make', *args], cwd=PROJECT_DIR, capture_output=True, text=True,
                        timeout=60)


def test_missing_python_names_what_to_install():
  # -B forces the install recipe, which stops at its first line: the venv is untouched.
  result = _make('-B', 'PYTHON=/nonexistent/python3.10', 'install')
  assert result.returncode != 0
  assert 'needs Python 3.10' in result.stdout
  assert 'pyenv install 3.10.13' in result.stdout and 'PYTHON=' in result.stdout


def test_installed_venv_is_reused_while_the_lock_is_unchanged():
  # `make -q` exits 0 only when the target is up to date, i.e. nothing would be reinstalled.
  assert _make('-q', 'install').returncode == 0
