"""The run_fn every model family shares: read transformed examples, build the family's
body under a classification head, train, and save with the serving signatures."""
from __future__ import annotations

import json
import logging
import os
from typing import Callable, Dict

import tensorflow as tf
import tensorflow_transform as tft
from tfx_bsl.public.tfxio import TensorFlowDatasetOptions

from models.common import signatures
from models.common.family import Family

# Shown on the console by `forge run` (see pipeline/progress.py).
progress = logging.getLogger('forge.progress')


def num_categories(tf_transform_output: tft.TFTransformOutput, feature_name: str) -> int:
  """Size of an integer feature's range, from the int_domain tf.Transform records for
  vocabularies and buckets."""
  schema = tf_transform_output.transformed_metadata.schema
  for feature in schema.feature:
    if feature.name == feature_name and feature.HasField('int_domain'):
      return int(feature.int_domain.max) + 1
  raise ValueError(f'transformed feature {feature_name!r} has no integer range in the '
                   'transform output schema; produce it with tft.compute_and_apply_vocabulary '
                   'or tft.bucketize')


def _input_layers(tf_transform_output: tft.TFTransformOutput, family: Family):
  spec = tf_transform_output.transformed_feature_spec().copy()
  spec.pop(family.transformed_label_key)
  return {name: tf.keras.Input(shape=(1,), name=name, dtype=feature.dtype)
          for name, feature in sorted(spec.items())}


def _dataset(fn_args, files, tf_transform_output, family: Family, batch_size: int):
  return fn_args.data_accessor.tf_dataset_factory(
      files,
      TensorFlowDatasetOptions(batch_size=batch_size, label_key=family.transformed_label_key),
      tf_transform_output.transformed_metadata.schema).prefetch(tf.data.AUTOTUNE)


def build_model(family: Family, build_body: Callable, tf_transform_output, hparams: Dict,
                learning_rate: float) -> tf.keras.Model:
  """The family's body under a sigmoid (binary) or softmax (multi-class) head, compiled."""
  inputs = _input_layers(tf_transform_output, family)
  body = build_body(inputs, tf_transform_output, hparams)
  if family.is_binary:
    outputs = tf.keras.layers.Dense(1, activation='sigmoid', name='probabilities')(body)
    loss, metrics = 'binary_crossentropy', [tf.keras.metrics.BinaryAccuracy(name='accuracy'),
                                            tf.keras.metrics.AUC(name='auc')]
  else:
    outputs = tf.keras.layers.Dense(
        len(family.class_names), activation='softmax', name='probabilities')(body)
    loss = 'sparse_categorical_crossentropy'
    metrics = [tf.keras.metrics.SparseCategoricalAccuracy(name='accuracy')]
  model = tf.keras.Model(inputs, outputs)
  model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate), loss=loss, metrics=metrics)
  return model


class _EpochProgress(tf.keras.callbacks.Callback):

  def __init__(self, epochs: int):
    super().__init__()
    self._epochs = epochs

  def on_epoch_end(self, epoch, logs=None):
    figures = ' '.join(f'{name} {value:.4f}' for name, value in sorted((logs or {}).items()))
    progress.info('  Trainer epoch %d/%d: %s', epoch + 1, self._epochs, figures)


def run(fn_args, family: Family, build_body: Callable, default_hparams: Dict) -> None:
  """TFX Trainer entry point body; `fn_args.custom_config` comes from the pipeline config."""
  config = fn_args.custom_config
  hparams = {**default_hparams, **config.get('hparams', {})}
  unknown = set(hparams) - set(default_hparams)
  if unknown:
    raise ValueError(f'model.hparams: unknown key(s) {sorted(unknown)} for the {family.name} '
                     f'family; it takes {sorted(default_hparams)}')
  epochs = config['epochs']
  tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
  train = _dataset(fn_args, fn_args.train_files, tf_transform_output, family,
                   config['batch_size'])
  evaluation = _dataset(fn_args, fn_args.eval_files, tf_transform_output, family,
                        config['batch_size'])
  model = build_model(family, build_body, tf_transform_output, hparams, config['learning_rate'])
  history = model.fit(
      train,
      epochs=epochs,
      steps_per_epoch=max(1, fn_args.train_steps // epochs),
      validation_data=evaluation,
      validation_steps=fn_args.eval_steps,
      verbose=0,
      callbacks=[tf.keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir),
                 _EpochProgress(epochs)])
  with tf.io.gfile.GFile(os.path.join(fn_args.model_run_dir, 'history.json'), 'w') as out:
    json.dump({'hparams': hparams, 'epochs': history.history}, out, indent=1)
  model.save(fn_args.serving_model_dir, save_format='tf',
             signatures=signatures.build(model, tf_transform_output, family))
