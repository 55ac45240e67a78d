"""`forge init <name> --from <family>`: a copy of a model family and its config as the start
of a user's own, like `tfx template copy`."""
from __future__ import annotations

import re
from pathlib import Path
from typing import List

from base.names import SAFE_NAME
from pipeline.config import model_families

PROJECT_DIR = Path(__file__).resolve().parent.parent


class ScaffoldError(ValueError):
  """The name or source cannot be used; the message says why and what to do."""


def _copy_family(source: Path, target: Path, old: str, new: str) -> List[Path]:
  """Copies the family's .py files, pointing imports and the family name at the new one."""
  written = []
  target.mkdir(parents=True)
  for path in sorted(source.glob('*.py')):
    text = path.read_text(encoding='utf-8')
    text = text.replace(f'models.{old}.', f'models.{new}.')
    text = re.sub(rf"name='{old}'", f"name='{new}'", text)
    (target / path.name).write_text(text, encoding='utf-8')
    written.append(target / path.name)
  return written


def _copy_config(source: Path, target: Path, old: str, new: str) -> Path:
  text = source.read_text(encoding='utf-8').replace(f'models/{old}/', f'models/{new}/')
  # The source's own description and data folder describe its data, not the new family's.
  text = re.sub(r'\A(#[^\n]*\n)+', '', text)
  text = re.sub(r'^(\s+data_root:\s*\S+/)[^/\s]+$', rf'\g<1>{new}', text, count=1, flags=re.M)
  text = re.sub(rf'^(\s+name:\s*){old}\b', rf'\g<1>{new}', text, count=1, flags=re.M)
  text = re.sub(rf'^(\s+root:\s*build/){old}\b', rf'\g<1>{new}', text, count=1, flags=re.M)
  text = re.sub(rf'^(\s+family:\s*){old}\b', rf'\g<1>{new}', text, count=1, flags=re.M)
  target.write_text(f'# Started from configs/{old}.yaml by `forge init {new} --from {old}`.\n'
                    + text, encoding='utf-8')
  return target


def init(name: str, source: str, project_dir: Path = PROJECT_DIR) -> List[Path]:
  """Writes models/<name>/ and configs/<name>.yaml; returns the files written."""
  if not SAFE_NAME.match(name) or not name.isidentifier():
    raise ScaffoldError(f'{name!r} cannot name a model family: use a letter, then letters, '
                        'digits or "_" (it becomes the Python package models.<name>)')
  if source not in model_families():
    raise ScaffoldError(f'--from {source!r}: no such family; choose one of '
                        f'{", ".join(model_families())}')
  family_dir = project_dir / 'models' / name
  config_path = project_dir / 'configs' / f'{name}.yaml'
  for existing in (family_dir, config_path):
    if existing.exists():
      raise ScaffoldError(f'{existing} already exists; pick another name or remove it')
  written = _copy_family(project_dir / 'models' / source, family_dir, source, name)
  written.append(_copy_config(project_dir / 'configs' / f'{source}.yaml', config_path,
                              source, name))
  return written
