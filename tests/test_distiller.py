"""Knowledge distillation on the penguin run's Transform output and model: a smaller student
has fewer parameters and an accuracy figure beside its teacher's; a student the size of its
teacher lands within 2 points of it."""
from base import env  # noqa: F401  (before TensorFlow)

import pytest
import tensorflow as tf
import tensorflow_transform as tft

from base.settings import DistillationSection
from components.distiller import distill as distillation
from components.distiller.executor import distill
from models.common.family import load_family
from pipeline.summary import read_latest_run
from tfx.utils import path_utils

SETTINGS = {'enabled': True, 'temperature': 4.0, 'alpha': 0.1, 'steps': 300,
            'learning_rate': 0.01}


@pytest.fixture(scope='module')
def penguin_artifacts(penguin_runs):
  outputs = read_latest_run(penguin_runs[0].config.metadata_path).outputs
  return (path_utils.serving_model_path(outputs['Trainer']['model'][0]),
          tft.TFTransformOutput(outputs['Transform']['transform_graph'][0]),
          outputs['Transform']['transformed_examples'][0], load_family('penguin', with_body=True))


@pytest.fixture(scope='module')
def majority_rate(penguin_runs):
  """The eval split's most common species' share: what always answering it scores."""
  import collections  # pylint: disable=import-outside-toplevel
  from tests.tflite_probe import eval_rows  # pylint: disable=import-outside-toplevel
  species = [tf.train.Example.FromString(row).features.feature['species'].bytes_list.value[0]
             for row in eval_rows(penguin_runs[0].config.pipeline.root)]
  return collections.Counter(species).most_common(1)[0][1] / len(species)


def test_a_smaller_student_reports_both_models(penguin_artifacts, majority_rate):
  teacher_dir, tft_output, examples, family = penguin_artifacts
  student, report = distill(teacher_dir, tft_output, examples, family,
                            DistillationSection(**SETTINGS, student_hparams={'hidden_units': [4]}), 32)
  assert report['student']['parameters'] == student.count_params()
  assert report['student']['parameters'] < report['teacher']['parameters']
  # Both learned more than always answering the eval split's commonest species.
  assert majority_rate < report['student']['accuracy'] <= 1, (report, majority_rate)
  assert majority_rate < report['teacher']['accuracy'] <= 1, (report, majority_rate)


def test_a_student_like_its_teacher_matches_it(penguin_artifacts):
  teacher_dir, tft_output, examples, family = penguin_artifacts
  teacher = tf.keras.models.load_model(teacher_dir)
  sizes = [layer.units for layer in teacher.layers
           if isinstance(layer, tf.keras.layers.Dense) and layer.name != 'probabilities']
  _, report = distill(teacher_dir, tft_output, examples, family,
                      DistillationSection(**SETTINGS, student_hparams={'hidden_units': sizes}), 32)
  assert report['student']['parameters'] == report['teacher']['parameters']
  assert abs(report['student']['accuracy'] - report['teacher']['accuracy']) <= 0.02


def test_soft_loss_is_zero_when_student_matches_teacher():
  probabilities = tf.constant([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
  assert float(distillation.soft_loss(probabilities, probabilities, 4.0, False)) == (
      pytest.approx(0.0, abs=1e-6))
  other = tf.constant([[0.1, 0.2, 0.7], [0.8, 0.1, 0.1]])
  assert float(distillation.soft_loss(probabilities, other, 4.0, False)) > 0.01
  binary = tf.constant([[0.9], [0.2]])
  assert float(distillation.soft_loss(binary, binary, 2.0, True)) < float(
      distillation.soft_loss(binary, 1 - binary, 2.0, True))
