"""Distils the Trainer's model (the teacher) into a student of the same family with the
hyperparameters from config (`distillation.student_hparams`), then reports both models'
parameters, SavedModel size and eval accuracy. The student is saved with every serving
signature, so the ModelOptimizer takes it like any trained model."""
from __future__ import annotations

import json
import logging
import os
from typing import Any, Dict, List

import tensorflow as tf
import tensorflow_transform as tft
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import path_utils

from base.settings import DistillationSection, from_exec_property
from components.distiller.distill import Distillation
from models.common import training
from models.common.family import Family, load_family

REPORT_FILE = 'distillation.json'
progress = logging.getLogger('forge.progress')


def _saved_model_bytes(path: str) -> int:
  return sum(tf.io.gfile.stat(os.path.join(folder, name)).length
             for folder, _, names in tf.io.gfile.walk(path) for name in names)


def _accuracy(model: tf.keras.Model, evaluation, family: Family) -> float:
  training.compile_model(model, family, rate=0.001)
  return float(model.evaluate(evaluation, verbose=0, return_dict=True)['accuracy'])


def distill(teacher_dir: str, tft_output, transformed_uris: List[str], family: Family,
            settings: DistillationSection, batch_size: int):
  """Returns the trained student and the report's figures (without the student's size)."""
  teacher = tf.keras.models.load_model(teacher_dir)
  hparams = family.hparams(settings.student_hparams)
  student = training.build_model(family, tft_output, hparams, settings.learning_rate)
  train = training.transformed_split(transformed_uris, 'train', tft_output, family, batch_size,
                                     repeat=True)
  progress.info('  Distiller trains the student %s (%d steps, temperature %g)',
                json.dumps(hparams), settings.steps, settings.temperature)
  distillation = Distillation(student, teacher, settings.temperature, settings.alpha,
                              family.is_binary)
  distillation.compile(optimizer=tf.keras.optimizers.Adam(settings.learning_rate))
  distillation.fit(train, steps_per_epoch=settings.steps, epochs=1, verbose=0)
  evaluation = training.transformed_split(transformed_uris, 'eval', tft_output, family,
                                          batch_size, repeat=False)
  report = {
      'temperature': settings.temperature, 'alpha': settings.alpha,
      'steps': settings.steps, 'student_hparams': hparams,
      'teacher': {'parameters': teacher.count_params(),
                  'saved_model_bytes': _saved_model_bytes(teacher_dir),
                  'accuracy': _accuracy(teacher, evaluation, family)},
      'student': {'parameters': student.count_params(),
                  'accuracy': _accuracy(student, evaluation, family)},
  }
  return student, report


class Executor(base_executor.BaseExecutor):

  def Do(self, input_dict: Dict[str, List[types.Artifact]],
         output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]) -> None:
    single = artifact_utils.get_single_instance
    settings, beside = from_exec_property(exec_properties['settings'], DistillationSection)
    family = load_family(exec_properties['family'], beside.get('family_spec'), with_body=True)
    training.seed_randomness(beside['seed'])  # the config's training.seed
    tft_output = tft.TFTransformOutput(single(input_dict['transform_graph']).uri)
    student, report = distill(
        path_utils.serving_model_path(single(input_dict['model']).uri), tft_output,
        [a.uri for a in input_dict['transformed_examples']], family, settings,
        exec_properties['batch_size'])
    path = training.save_for_serving(student, single(output_dict['student_model']).uri, tft_output,
                                     family)
    report['student']['saved_model_bytes'] = _saved_model_bytes(path)
    with tf.io.gfile.GFile(os.path.join(single(output_dict['distillation']).uri, REPORT_FILE),
                           'w') as out:
      json.dump(report, out, indent=1)
