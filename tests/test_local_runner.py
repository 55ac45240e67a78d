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


def test_local_beam_runs_skip_tfx_packaging_itself_only_for_the_direct_runner():
  """TFX builds an sdist of itself for remote workers unless a dependency flag is set;
  the DirectRunner never reads it, another runner must get the arguments as written."""
  from pipeline.pipeline import local_beam_args
  default = ['--direct_running_mode=in_memory', '--direct_num_workers=1']
  assert local_beam_args(default)[:2] == default
  assert any(arg.startswith('--sdk_container_image=') for arg in local_beam_args(default))
  assert any(arg.startswith('--sdk_container_image=')
             for arg in local_beam_args(['--runner=DirectRunner']))
  flink = ['--runner=PortableRunner', '--job_endpoint=localhost:8099']
  assert local_beam_args(flink) == flink


def test_autograph_leaves_keras_code_alone_and_converts_ours():
  """tf_keras is written to run unconverted, as Keras was; converting it cost the taxi
  Trainer 15 s a run."""
  import tensorflow as tf
  from tensorflow.python.autograph.impl import conversion
  from models.common import training  # noqa: F401  (applies the rule)
  from models.text import model as text_model

  assert conversion.is_allowlisted(tf.keras.layers.Dense.call)
  assert conversion.is_allowlisted(tf.keras.Model.train_step)
  own_layers = [value for value in vars(text_model).values()
                if isinstance(value, type) and issubclass(value, tf.keras.layers.Layer)]
  assert own_layers and not any(conversion.is_allowlisted(layer.call) for layer in own_layers)
