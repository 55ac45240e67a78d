"""Config errors name the key and the fix, before anything runs."""
import pytest
import yaml

from pipeline.config import ConfigError, load_config
from tests.conftest import PROJECT_DIR, forge_run, write_config


def _error(tmp_path, **sections):
  with pytest.raises(ConfigError) as err:
    load_config(write_config(tmp_path / 'c.yaml', 'penguin', **sections))
  return str(err.value)


def test_shipped_configs_are_valid():
  for name in ('penguin', 'taxi', 'digits', 'text'):
    config = load_config(PROJECT_DIR / 'configs' / f'{name}.yaml')
    assert config.model.family == name


def test_mobile_dir_defaults_beside_the_serving_dir(tmp_path):
  config = load_config(write_config(tmp_path / 'c.yaml', 'penguin',
                                    outputs={'serving_dir': str(tmp_path / 'serving')}))
  assert config.outputs.mobile_path == tmp_path / 'mobile'
  assert not config.optimization.enabled


def test_unknown_tflite_variant_lists_the_choices(tmp_path):
  message = _error(tmp_path, optimization={'enabled': True, 'variants': ['int4']})
  assert 'optimization.variants.0' in message and 'pruned_qat_int8' in message


def test_unknown_key_is_named(tmp_path):
  message = _error(tmp_path, training={'epoch': 3})
  assert 'training.epoch' in message and 'unknown key' in message


def test_wrong_type_is_named(tmp_path):
  message = _error(tmp_path, training={'batch_size': 'large'})
  assert 'training.batch_size' in message and "'large'" in message


def test_missing_data_path_is_named(tmp_path):
  message = _error(tmp_path, data={'builtin': None, 'path': str(tmp_path / 'nope.csv')})
  assert 'data.path' in message and 'nope.csv' in message and 'does not exist' in message


def test_exactly_one_data_source(tmp_path):
  message = _error(tmp_path, data={'path': str(tmp_path)})
  assert 'exactly one of data.builtin' in message


@pytest.mark.parametrize('name', ['../../etc', 'a/b', '/abs', '.hidden', 'a b', '', 'x' * 64,
                                  'model\x00', '9lives'])
def test_unsafe_pipeline_name_is_refused(tmp_path, name):
  message = _error(tmp_path, pipeline={'name': name})
  assert 'pipeline.name' in message and 'not a safe name' in message


def test_unknown_family_lists_the_choices(tmp_path):
  message = _error(tmp_path, model={'family': 'resnet'})
  assert 'model.family' in message and "'penguin'" in message


def test_fewer_steps_than_epochs(tmp_path):
  assert 'train_steps' in _error(tmp_path, training={'epochs': 10, 'train_steps': 5})


def test_yaml_object_tags_are_not_constructed(tmp_path):
  path = tmp_path / 'evil.yaml'
  path.write_text('pipeline: !!python/object/apply:os.system ["echo pwned"]\n')
  with pytest.raises(ConfigError, match='not valid YAML'):
    load_config(path)


def test_overrides_replace_config_values(tmp_path):
  config = load_config(write_config(tmp_path / 'c.yaml', 'penguin'),
                       {'training.epochs': '3', 'pipeline.root': str(tmp_path / 'r')})
  assert config.training.epochs == 3
  assert config.pipeline.root == tmp_path / 'r'


def test_data_path_override_replaces_the_builtin_dataset(tmp_path):
  data = tmp_path / 'data.csv'
  data.write_text('a,b\n1,2\n')
  config = load_config(write_config(tmp_path / 'c.yaml', 'penguin'), {'data.path': str(data)})
  assert config.data.builtin is None and config.data.path == data
  assert config.data.dataset == 'penguins'  # its curated schema still applies


def test_cli_reports_config_errors_with_exit_code_2(tmp_path):
  run_config = write_config(tmp_path / 'c.yaml', 'penguin', training={'epoch': 3})
  from tests.conftest import FORGE
  import subprocess
  completed = subprocess.run(FORGE + ['run', str(run_config)], cwd=PROJECT_DIR,
                             capture_output=True, text=True, timeout=120)
  assert completed.returncode == 2
  assert 'training.epoch' in completed.stderr
