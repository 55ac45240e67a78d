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
