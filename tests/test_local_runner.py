"""The local runner's guard: one run per pipeline root."""
import os

from pipeline.runner import exclusive
from tests.conftest import forge_run, write_config


def test_a_second_run_of_the_same_pipeline_is_refused(tmp_path):
  config = write_config(tmp_path / 'c.yaml', 'penguin', pipeline={'root': str(tmp_path / 'root')},
                        outputs={'serving_dir': str(tmp_path / 'serving')})
  with exclusive(tmp_path / 'root'):  # as a run in progress holds it
    run = forge_run(config)
  assert run.returncode == 1
  assert 'another run of this pipeline is in progress' in run.output
  assert f'pid {os.getpid()}' in run.output
  assert not (tmp_path / 'root' / 'metadata.sqlite').exists()


def _code_properties(config_path):
  """What TFX's cache key holds of the model code, per component that runs it."""
  from pipeline.config import load_config
  from pipeline.pipeline import create_pipeline
  components = {c.id: c for c in create_pipeline(load_config(config_path)).components}
  return {
      'Transform': components['Transform'].exec_properties['custom_config'],
      'Trainer': components['Trainer'].exec_properties['custom_config'],
  }


def test_editing_the_model_code_invalidates_the_cached_transform_and_trainer(
    tmp_path, monkeypatch):
  """TFX keys Transform and Trainer by the function's dotted path; a re-run after editing
  preprocessing.py must not reuse the old Transform graph (it once failed in the Trainer
  with a vocabulary the new code no longer made)."""
  import shutil
  from models.common import family as family_module
  config = write_config(tmp_path / 'c.yaml', 'penguin', pipeline={'root': str(tmp_path / 'root')},
                        outputs={'serving_dir': str(tmp_path / 'serving')})
  before = _code_properties(config)
  assert before == _code_properties(config)  # stable: an unchanged re-run stays cached

  models = tmp_path / 'models'
  shutil.copytree(family_module.MODELS_DIR, models,
                  ignore=shutil.ignore_patterns('__pycache__'))
  with open(models / 'penguin' / 'preprocessing.py', 'a', encoding='utf-8') as source:
    source.write('\n# an edit\n')
  monkeypatch.setattr(family_module, 'MODELS_DIR', models)
  after = _code_properties(config)
  assert after['Transform'] != before['Transform']
  assert after['Trainer'] != before['Trainer']
