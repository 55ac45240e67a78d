"""The mobile stage on the digits showcase: pruned and quantized variants measured with the
LiteRT interpreter, the smallest one within budget pushed with its labels and TFLite
Metadata, classified by the Task Library's ImageClassifier as an app would, and nothing
pushed when no variant meets its budgets."""
from base import env  # noqa: F401  (before TensorFlow)

import json

import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter
from sklearn.datasets import load_digits

from components.common import task_library, tflite_metadata
from components.common.mobile_inputs import task_library_inputs
from components.model_optimizer import compress
from models.digits.features import FAMILY
from base.settings import TFLITE_VARIANTS
from pipeline.summary import read_latest_run
from tests.tflite_probe import eval_rows, first_artifact, serving_default_classes


def _version_dirs(run):
  model_dir = run.config.outputs.mobile_path / run.config.model_name
  return sorted(p for p in model_dir.iterdir() if p.name.isdigit()) if model_dir.is_dir() else []


@pytest.fixture(scope='module')
def report(digits_runs):
  root = digits_runs.first.config.pipeline.root  # the second run made other artifacts
  return json.loads((first_artifact(root, 'ModelOptimizer', 'report') / 'report.json').read_text())


def test_every_variant_is_measured_and_printed(digits_runs, report):
  assert digits_runs.first.returncode == 0, digits_runs.first.output
  assert set(report['variants']) == set(TFLITE_VARIANTS)
  for name, row in report['variants'].items():
    assert row['size_bytes'] > row['gzip_bytes'] > 0
    assert 0 < row['latency_ms_p50'] <= row['latency_ms_p90']
    assert name in digits_runs.first.output
  assert 'TFLite variants (LiteRT interpreter, eval split)' in digits_runs.first.output


def test_pushed_int8_model_runs_on_raw_pixels_within_one_point(digits_runs, report):
  (version,) = _version_dirs(digits_runs.first)
  metadata = json.loads((version / 'metadata.json').read_text())
  assert metadata['variant'].endswith('int8')
  assert (version / 'labels.txt').read_text().split() == [str(d) for d in range(10)]
  assert metadata['inputs']['image']['shape'] == [-1, 8, 8, 3]
  interpreter = Interpreter(model_path=str(version / 'model.tflite'), num_threads=1)
  runner = interpreter.get_signature_runner('mobile')
  # Raw grey levels 0-16, exactly what scikit-learn (and a phone's 8x8 capture) gives, in
  # each channel of an RGB image.
  digits = load_digits()
  images = np.repeat(digits.data.reshape(-1, 8, 8, 1), 3, axis=3).astype(np.float32)
  probabilities = runner(image=images)['probabilities']
  assert probabilities.shape == (len(digits.data), 10)
  assert np.mean(probabilities.argmax(axis=1) == digits.target) > 0.95
  measured = report['variants'][metadata['variant']]
  # The budget bounds the loss: a pruned variant fine-tuned further may also score higher
  # than the float SavedModel (seen: 0.990 against 0.969 on the eval split).
  assert report['savedmodel']['accuracy'] - measured['accuracy'] <= 0.01
  assert f'Mobile: {metadata["variant"]} pushed to {version}' in digits_runs.first.output
  # The model card goes with the phone's copy too, and names the variant it carries.
  card = json.loads((version / 'assets.extra' / 'model_card.json').read_text())
  assert card['model_details']['mobile_path'] == str(version)
  (selected,) = [v for v in card['quantitative_analysis']['tflite_variants'] if v['selected']]
  assert selected['name'] == metadata['variant']


def test_pushed_file_carries_the_metadata_an_app_reads(digits_runs):
  (version,) = _version_dirs(digits_runs.first)
  read = tflite_metadata.read((version / 'model.tflite').read_bytes())
  model = read['metadata']
  assert (model['name'], model['version'], model['author']) == ('digits', version.name,
                                                                 'tfx-forge')
  assert 'digits classifier' in model['description']
  (subgraph,) = model['subgraph_metadata']
  (image,) = subgraph['input_tensor_metadata']
  assert image['content']['content_properties']['color_space'] == 'RGB'
  (normalization,) = image['process_units']
  assert normalization['options'] == {'mean': [0.0], 'std': [1.0]}
  (output,) = subgraph['output_tensor_metadata']
  assert output['associated_files'][0]['type'] == 'TENSOR_AXIS_LABELS'
  assert read['files']['labels.txt'].split() == [str(d) for d in range(10)]


def test_the_task_library_classifies_the_eval_split_as_the_savedmodel_does(digits_runs, report):
  """The pushed file alone, in the TFLite Task Library's ImageClassifier (8-bit RGB images,
  as an app passes them), against the serving_default of the SavedModel it was converted
  from: top-1 agreement >= 99% on the whole eval split."""
  (version,) = _version_dirs(digits_runs.first)
  rows = eval_rows(digits_runs.first.config.pipeline.root)
  variant = json.loads((version / 'metadata.json').read_text())['variant']
  source = report['sources'][report['variants'][variant]['source']]
  expected = serving_default_classes(source, rows, FAMILY.label_key)
  answer = task_library.classify(task_library.IMAGE, {'pushed': str(version / 'model.tflite')},
                                 task_library_inputs(rows, FAMILY))['pushed']
  agreement = np.mean(np.array(answer['classes']) == np.array(expected))
  assert len(rows) > 300 and agreement >= 0.99, agreement
  assert report['variants'][variant]['task_library_top1_vs_litert'] >= 0.99


def test_pruned_kernels_reach_the_target_sparsity(digits_runs):
  model_dir = first_artifact(digits_runs.first.config.pipeline.root, 'ModelOptimizer',
                             'pruned_model') / 'Format-Serving'
  pruned = tf.keras.models.load_model(str(model_dir))
  sparsity = compress.kernel_sparsity(pruned)
  assert len(sparsity) == 4  # two Conv2D, the hidden Dense and the head
  for layer, value in sparsity.items():
    assert abs(value - 0.75) <= 0.02, (layer, value)


def test_impossible_budgets_push_nothing_and_say_which_budget(digits_runs):
  run = digits_runs.impossible_budget
  assert run.returncode == 6, run.output
  assert 'Mobile: nothing pushed' in run.output
  for variant in ('float32', 'int8'):  # the variants this run builds
    assert f'{variant} missed: size' in run.output
    assert 'optimization.size_budget_kb' in run.output
  assert len(_version_dirs(run)) == 1  # the first run's version, still the only one
  summary = read_latest_run(run.config.metadata_path)
  assert summary.optimization['selected'] is None
  assert summary.mobile_pushed_to is None
  # The ModelCard runs again: it records the new budgets' verdicts beside the served version.
  assert set(summary.executed) == {'ModelOptimizer', 'MobilePusher', 'ModelCard'}
