"""Penguin's compiled specs run task by task as the backend would run them
(tests/kfp_replay.py, a test double of the KFP driver and launcher): each task is the
spec's own command line, TFX's container entry point, in a fresh process.

One module fixture, three pipeline runs (about 12 processes each, the cost is TensorFlow's
import per task): the --target kubeflow spec twice (the second run finds the first's push as
its baseline), then the --target vertex spec once, its resolver queries answered from the
same records (the stand-in for ML Metadata), so it finds the Kubeflow runs' latest blessed
model.
"""
import json
import time
from pathlib import Path

import pytest

from kubeflow.runner import LATEST_PUSHED_MODEL, compile_pipeline
from pipeline import datasets
from pipeline.config import load_config
from tests.conftest import PROJECT_DIR, write_config
from tests.kfp_replay import Replay, ReplayError

BUCKET = 'gs://my-bucket/'  # configs/penguin.yaml's kubeflow section
RESOLVER = 'latest_blessed_model_resolver'


def _compile(work: Path, target: str) -> dict:
  config = load_config(write_config(
      work / 'penguin.yaml', 'penguin', pipeline={'root': str(work / 'root')},
      # Few steps, enough for the 0.90 accuracy gate (as in test_bad_input).
      training={'epochs': 5, 'train_steps': 250},
      kubeflow={'beam_args': ['--runner=DirectRunner', '--direct_running_mode=in_memory',
                              '--direct_num_workers=1']}))
  return json.loads(compile_pipeline(config, work / target, target).read_text())


@pytest.fixture(scope='module')
def replays(tmp_path_factory):
  work = tmp_path_factory.mktemp('kfp_replay')
  datasets.materialize('penguins', work / 'data')
  data_root = str(datasets.locate('penguins', None, 'csv', work / 'data').input_base)
  path_map = {BUCKET: f'{work}/bucket/', '/app/': f'{PROJECT_DIR}/'}
  kubeflow = Replay(_compile(work, 'kubeflow'), work / 'bucket', path_map, cwd=PROJECT_DIR)
  runs = {}
  for run_id in ('kfp-1', 'kfp-2'):
    start = time.monotonic()
    runs[run_id] = kubeflow.run(run_id, {'data-root': data_root})
    print(f'replay {run_id}: {time.monotonic() - start:.0f} s')
  vertex = Replay(_compile(work, 'vertex'), work / 'bucket', path_map, vertex=True,
                  cwd=PROJECT_DIR)
  vertex.records = kubeflow.records  # one metadata store
  start = time.monotonic()
  runs['vertex-1'] = vertex.run('vertex-1', {'data-root': data_root})
  print(f'replay vertex-1: {time.monotonic() - start:.0f} s')
  return runs, work / 'bucket' / 'tfx-forge' / 'serving' / 'penguin', kubeflow


def _metadata(run, task, key):
  (artifact,) = run[task].outputs[key]
  return artifact['metadata']


def test_kubeflow_spec_runs_to_a_pushed_model(replays):
  runs, serving, _ = replays
  first = runs['kfp-1']
  assert _metadata(first, LATEST_PUSHED_MODEL, 'baseline_model')['found'] == 0
  assert _metadata(first, 'Evaluator', 'blessing')['blessed'] == 1
  pushed = _metadata(first, 'Pusher', 'pushed_model')
  assert pushed['pushed'] == 1
  assert (serving / pushed['pushed_version'] / 'saved_model.pb').exists()
  card = Path(first['ModelCard'].outputs['model_card'][0]['uri'])
  assert (card / 'model_card.json').exists()


def test_second_kubeflow_run_finds_the_first_push_as_its_baseline(replays):
  runs, serving, _ = replays
  first_version = _metadata(runs['kfp-1'], 'Pusher', 'pushed_model')['pushed_version']
  found = _metadata(runs['kfp-2'], LATEST_PUSHED_MODEL, 'baseline_model')
  assert found['found'] == 1
  assert found['pushed_destination'] == f'{serving}/{first_version}'
  (baseline,) = runs['kfp-2'][LATEST_PUSHED_MODEL].outputs['baseline_model']
  blessing = _metadata(runs['kfp-2'], 'Evaluator', 'blessing')
  assert blessing['baseline_model'] == baseline['uri']  # evaluated against it
  assert blessing['blessed'] == 1
  assert int(_metadata(runs['kfp-2'], 'Pusher', 'pushed_model')['pushed_version']) > int(
      first_version)


def test_vertex_spec_resolves_the_latest_blessed_model(replays):
  runs, _, _ = replays
  vertex = runs['vertex-1']
  (model,) = vertex[f'{RESOLVER}-model-resolver'].outputs['model']
  assert model['uri'] == runs['kfp-2']['Trainer'].outputs['model'][0]['uri']
  blessing = _metadata(vertex, 'Evaluator', 'blessing')
  assert blessing['baseline_model'] == model['uri']
  assert _metadata(vertex, 'Pusher', 'pushed_model')['pushed'] == 1


def test_vertex_example_gen_driver_ran_before_its_executor(replays):
  runs, _, _ = replays
  examples = _metadata(runs['vertex-1'], 'CsvExampleGen', 'examples')
  assert examples['input_fingerprint']  # written by TFX's file_based_example_gen driver


def test_the_replay_refuses_what_open_source_kfp_does_not_run(tmp_path):
  job = _compile(tmp_path, 'kubeflow')
  executors = job['pipelineSpec']['deploymentSpec']['executors']
  executors['CsvExampleGen_executor'] = {'resolver': {'outputArtifactQueries': {}}}
  with pytest.raises(ReplayError, match='resolver'):
    Replay(job, tmp_path, {}).run('refused')
