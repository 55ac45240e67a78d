"""A digest of a module's source and of every project module it imports, transitively.

TFX keys its cache by a component's inputs, exec properties and executor class path, not
by what the executor's code does: an edited executor would silently reuse the outputs its
old code made. Passed to a component as an exec property, this digest makes an edit re-run
it (and, through its new outputs, everything after it). Written here: TFX has no such key.
"""
from __future__ import annotations

import ast
import hashlib
from pathlib import Path
from typing import Iterable, Set

PROJECT_PACKAGES = ('components', 'models', 'pipeline', 'kubeflow')


ROOT = Path(__file__).resolve().parent.parent.parent


def _source(module: str, root: Path) -> Path | None:
  """The module's file, found without importing anything (importing would run TensorFlow's
  start-up for each executor)."""
  base = root.joinpath(*module.split('.'))
  for candidate in (base.with_suffix('.py'), base / '__init__.py'):
    if candidate.is_file():
      return candidate
  return None  # `from module import function`, or not a module of ours


def _imports(path: Path, package: str) -> Iterable[str]:
  for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
    if isinstance(node, ast.Import):
      yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
      yield node.module
      yield from (f'{node.module}.{alias.name}' for alias in node.names)
    elif isinstance(node, ast.ImportFrom) and node.level:  # relative: from . import x
      base = package.rsplit('.', node.level - 1)[0] if node.level > 1 else package
      yield f'{base}.{node.module}' if node.module else base


def project_modules(module: str, root: Path = ROOT) -> Set[Path]:
  """The source files of `module` and of the project modules it imports, transitively."""
  seen: Set[Path] = set()
  queue = [module]
  while queue:
    name = queue.pop()
    if not name.startswith(PROJECT_PACKAGES):
      continue
    path = _source(name, root)
    if path is None or path in seen:
      continue
    seen.add(path)
    package = name if path.name == '__init__.py' else name.rpartition('.')[0]
    queue.extend(_imports(path, package))
  return seen


def code_fingerprint(*modules: str, root: Path = ROOT) -> str:
  digest = hashlib.sha256()
  for path in sorted(set().union(*(project_modules(module, root) for module in modules))):
    digest.update(str(path.relative_to(root)).encode())
    digest.update(path.read_bytes())
  return digest.hexdigest()[:16]
