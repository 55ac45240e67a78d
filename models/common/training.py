"""The run_fn every model family shares: read transformed examples, build the family's
body under a classification head inside the configured tf.distribute strategy, train with
the configured controls (schedule, clipping, early stopping, resumable checkpoints), and
save with the serving signatures."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import tempfile
from typing import Callable, Dict, List, Tuple

import keras_tuner
import tensorflow as tf
import tensorflow_transform as tft
from tfx.components.tuner.component import TunerFnResult
from tfx_bsl.public.tfxio import TensorFlowDatasetOptions

from base.settings import PrivacySection, TrainingSection, TuningSection
from models.common import autograph, signatures, strategy as strategies
from models.common.family import HISTORY_FILE, Family

autograph.skip_tf_keras()


@dataclasses.dataclass(frozen=True)
class Private:
  """DP-SGD: the config's training.privacy and the global batch it clips over."""
  settings: PrivacySection
  batch_size: int

# Shown on the console by `forge run` (see pipeline/progress.py).
progress = logging.getLogger('forge.progress')


def num_categories(tf_transform_output: tft.TFTransformOutput, vocabulary_name: str) -> int:
  """How many categories a feature made by preprocessing.categorical(..., name) has."""
  return tf_transform_output.vocabulary_size_by_name(vocabulary_name)


def _input_layers(tf_transform_output: tft.TFTransformOutput, family: Family):
  spec = tf_transform_output.transformed_feature_spec().copy()
  spec.pop(family.transformed_label_key)
  # A scalar feature arrives as [batch]; Keras takes it as [batch, 1].
  return {name: tf.keras.Input(shape=tuple(feature.shape) or (1,), name=name,
                               dtype=feature.dtype)
          for name, feature in sorted(spec.items())}


def seed_randomness(seed: int | None) -> None:
  """training.seed for Python, NumPy and TensorFlow (initializers, dropout, shuffles); None
  leaves them unseeded."""
  if seed is not None:
    tf.keras.utils.set_random_seed(seed)


def dataset(fn_args, files, tf_transform_output, family: Family, batch_size: int,
            seed: int | None):
  # The same shuffle seed on every worker: the DATA auto-shard below then hands each worker
  # disjoint rows of one order.
  data = fn_args.data_accessor.tf_dataset_factory(
      files,
      TensorFlowDatasetOptions(batch_size=batch_size, label_key=family.transformed_label_key,
                               shuffle_seed=seed),
      tf_transform_output.transformed_metadata.schema)
  options = tf.data.Options()
  # Few files: shard by element, not by file, across workers.
  options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
  return data.with_options(options).prefetch(tf.data.AUTOTUNE)


def transformed_split(transformed_uris: str | List[str], split: str, tf_transform_output,
                      family: Family, batch_size: int, repeat: bool):
  """A split of Transform's output (one artifact's URI, or those of every span trained on)
  as (features, label) batches, read directly (outside the Trainer, where no data accessor
  exists): fine-tuning, distillation, evaluation."""
  uris = [transformed_uris] if isinstance(transformed_uris, str) else transformed_uris
  files = [path for uri in uris for path in tf.io.gfile.glob(f'{uri}/Split-{split}/*')]
  spec = tf_transform_output.transformed_feature_spec()

  def split_label(features):
    label = features.pop(family.transformed_label_key)
    return features, label

  rows = tf.data.TFRecordDataset(files, compression_type='GZIP')
  rows = rows.shuffle(10_000, seed=0).repeat() if repeat else rows
  return (rows.batch(batch_size).map(lambda batch: tf.io.parse_example(batch, spec))
          .map(split_label).prefetch(tf.data.AUTOTUNE))


def save_for_serving(model: tf.keras.Model, artifact_uri: str, tf_transform_output,
                     family: Family) -> str:
  """Saves a model as a Model artifact's SavedModel, with every serving signature."""
  from tfx.utils import path_utils
  path = path_utils.serving_model_dir(artifact_uri)
  model.save(path, save_format='tf',
             signatures=signatures.build(model, tf_transform_output, family))
  return path


def trainer_settings(fn_args) -> TrainingSection:
  """The config's training section, validated again from the Trainer's custom_config; the
  steps are the Trainer's train_args/eval_args (a Kubeflow run parameter may set them)."""
  return TrainingSection.model_validate({**fn_args.custom_config['training'],
                                         'train_steps': fn_args.train_steps,
                                         'eval_steps': fn_args.eval_steps})


def learning_rate(config: TrainingSection, rate: float, total_steps: int):
  """Constant or cosine decay from `rate`, either after an optional linear warm-up."""
  warmup = min(config.warmup_steps, total_steps - 1)
  if config.lr_schedule == 'constant' and not warmup:
    return rate
  return tf.keras.optimizers.schedules.CosineDecay(
      initial_learning_rate=0.0 if warmup else rate,
      decay_steps=max(1, total_steps - warmup),
      alpha=1.0 if config.lr_schedule == 'constant' else 0.0,
      warmup_target=rate if warmup else None,
      warmup_steps=warmup)


def _matching(patterns) -> list:
  """The files of the Trainer's file patterns (fn_args.train_files / eval_files)."""
  return [path for pattern in patterns for path in tf.io.gfile.glob(pattern)]


def training_label_scale(train_files, tf_transform_output, family: Family) -> Tuple[float, float]:
  """(mean, std) of a regression's training label; (0, 1), no scaling, otherwise."""
  if not family.is_regression:
    return 0.0, 1.0
  return label_moments(train_files, tf_transform_output, family)


def label_moments(train_files, tf_transform_output, family: Family) -> Tuple[float, float]:
  """Mean and standard deviation of a regression label over the training split: the model
  learns the z-scored label and its last layer scales back to the label's units."""
  files = _matching(train_files)
  spec = {family.transformed_label_key:
          tf_transform_output.transformed_feature_spec()[family.transformed_label_key]}
  rows = (tf.data.TFRecordDataset(files, compression_type='GZIP').batch(4096)
          .map(lambda batch: tf.io.parse_example(batch, spec)[family.transformed_label_key]))
  count, total, squares = 0, 0.0, 0.0
  for labels in rows.as_numpy_iterator():
    labels = labels.astype('float64').reshape(-1)
    count, total, squares = count + len(labels), total + labels.sum(), squares + (labels ** 2).sum()
  mean = total / max(count, 1)
  std = max((squares / max(count, 1) - mean ** 2), 0.0) ** 0.5
  return float(mean), float(std) or 1.0


def eval_predictions(model: tf.keras.Model, eval_files, tf_transform_output, family: Family,
                     rows: int = 1000) -> Dict[str, list]:
  """A regression's labels and predictions on the first `rows` eval rows, each once: the
  report's predicted-vs-actual and residual plots."""
  files = _matching(eval_files)
  spec = tf_transform_output.transformed_feature_spec()
  pairs: Dict[str, list] = {'label': [], 'prediction': []}
  batches = (tf.data.TFRecordDataset(files, compression_type='GZIP').take(rows).batch(256)
             .map(lambda batch: tf.io.parse_example(batch, spec)))
  for features in batches:
    labels = features.pop(family.transformed_label_key)
    pairs['label'] += labels.numpy().reshape(-1).tolist()
    pairs['prediction'] += model(features, training=False).numpy().reshape(-1).tolist()
  return pairs


def build_model(family: Family, tf_transform_output, hparams: Dict,
                rate, clipnorm: float | None = None,
                private: Private | None = None,
                label_scale: Tuple[float, float] = (0.0, 1.0)) -> tf.keras.Model:
  """The family's body under a sigmoid (binary), softmax (multi-class) or linear
  (regression, scaled back to the label's units by `label_scale`: mean, std) head,
  compiled."""
  inputs = _input_layers(tf_transform_output, family)
  body = family.body.build(inputs, tf_transform_output, hparams)
  # float32 head: stable probabilities under mixed precision.
  if family.is_regression:
    mean, std = label_scale
    scaled = tf.keras.layers.Dense(1, name='scaled_prediction', dtype='float32')(body)
    outputs = tf.keras.layers.Rescaling(std, offset=mean, name=family.output_key,
                                        dtype='float32')(scaled)
  elif family.is_binary:
    outputs = tf.keras.layers.Dense(1, activation='sigmoid', name=family.output_key,
                                    dtype='float32')(body)
  else:
    outputs = tf.keras.layers.Dense(len(family.class_names), activation='softmax',
                                    name=family.output_key, dtype='float32')(body)
  model = tf.keras.Model(inputs, outputs)
  return compile_model(model, family, rate, clipnorm, private, label_scale[1])


def compile_model(model: tf.keras.Model, family: Family, rate,
                  clipnorm: float | None = None,
                  private: Private | None = None, label_std: float = 1.0) -> tf.keras.Model:
  """Adam with the family's loss: binary or sparse categorical cross-entropy, or for
  regression the family's `loss` (mse, or huber with delta one label standard deviation).
  `private` (training.privacy and the global batch) makes it DP-SGD."""
  if family.is_regression:
    loss = (tf.keras.losses.Huber(delta=label_std)
            if (family.spec or {}).get('loss') == 'huber' else 'mse')
    metrics = [tf.keras.metrics.RootMeanSquaredError(name='rmse'),
               tf.keras.metrics.MeanAbsoluteError(name='mae')]
  elif family.is_binary:
    loss, metrics = 'binary_crossentropy', [tf.keras.metrics.BinaryAccuracy(name='accuracy'),
                                            tf.keras.metrics.AUC(name='auc')]
  else:
    loss = 'sparse_categorical_crossentropy'
    metrics = [tf.keras.metrics.SparseCategoricalAccuracy(name='accuracy')]
  optimizer = tf.keras.optimizers.Adam(rate, clipnorm=clipnorm)
  if private:
    if family.is_regression:
      raise ValueError('training.privacy: DP-SGD is built for classification here; the '
                       f'{family.name} family is a regression')
    from models.common import privacy
    optimizer = privacy.optimizer(private.settings, private.batch_size, rate)
    loss = privacy.per_example_loss(family.is_binary)
  model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
  return model


def hyperparameters(fn_args, family: Family) -> Dict:
  """Family defaults, then the config's model.hparams, then the Tuner's best values."""
  tuned = {}
  if fn_args.hyperparameters:  # KerasTuner's HyperParameters.get_config() from the Tuner
    tuned = family.body.search_space(
        keras_tuner.HyperParameters.from_config(fn_args.hyperparameters))
    progress.info('  Trainer uses the Tuner\'s best hyperparameters: %s', tuned)
  return family.hparams(fn_args.custom_config['hparams'], tuned)


class _EpochProgress(tf.keras.callbacks.Callback):

  def __init__(self, epochs: int):
    super().__init__()
    self._epochs = epochs
    self._first = True

  def on_epoch_begin(self, epoch, logs=None):
    if self._first and epoch > 0:
      progress.info('  Trainer resumed from its checkpoint at epoch %d/%d', epoch + 1,
                    self._epochs)
    self._first = False

  def on_epoch_end(self, epoch, logs=None):
    figures = ' '.join(f'{name} {value:.4f}' for name, value in sorted((logs or {}).items())
                       if name != 'lr')
    progress.info('  Trainer epoch %d/%d: %s', epoch + 1, self._epochs, figures)


def _backup_dir(fn_args) -> str:
  """Stable across executions of the same Trainer inputs, so a re-run after a crash finds
  the checkpoint of the killed one (each execution gets a new model_run_dir)."""
  key = json.dumps([sorted(fn_args.train_files), fn_args.transform_graph_path,
                    fn_args.train_steps, fn_args.custom_config], sort_keys=True, default=str)
  root = fn_args.custom_config['backup_root']
  return os.path.join(root, hashlib.sha256(key.encode()).hexdigest()[:16])


def _callbacks(fn_args, config: TrainingSection, epochs: int):
  callbacks = [tf.keras.callbacks.BackupAndRestore(backup_dir=_backup_dir(fn_args)),
               tf.keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir),
               _EpochProgress(epochs)]
  if config.early_stopping_patience:
    callbacks.append(tf.keras.callbacks.EarlyStopping(
        monitor='val_loss', patience=config.early_stopping_patience,
        restore_best_weights=True))
  return callbacks


def privacy_spent(private: Private, train_files, steps: int) -> Dict:
  """The (epsilon, delta) DP-SGD spent over `steps` batches of the training split."""
  from models.common import privacy
  files = _matching(train_files)
  rows = int(tf.data.TFRecordDataset(files, compression_type='GZIP').reduce(
      tf.constant(0, tf.int64), lambda count, _: count + 1))
  settings = private.settings
  delta = settings.delta or privacy.default_delta(rows)
  spent = {'epsilon': privacy.epsilon(settings.noise_multiplier, private.batch_size, steps,
                                      rows, delta),
           'delta': delta, 'noise_multiplier': settings.noise_multiplier,
           'l2_norm_clip': settings.l2_norm_clip, 'steps': steps,
           'batch_size': private.batch_size, 'training_rows': rows}
  progress.info('  Trainer DP-SGD spent epsilon %.2f at delta %.2g (noise multiplier %g, '
                '%d steps of %d over %d rows)', spent['epsilon'], delta,
                spent['noise_multiplier'], steps, spent['batch_size'], rows)
  return spent


def run(fn_args, family: Family) -> None:
  """TFX Trainer entry point body; `fn_args.custom_config` comes from the pipeline config
  (see pipeline/pipeline.py): the training section, model.hparams, the backup root."""
  config = trainer_settings(fn_args)
  seed_randomness(config.seed)
  strategies.set_mixed_precision(config.mixed_precision, config.strategy.kind)
  strategy = strategies.build(config.strategy)
  progress.info('  Trainer strategy: %s', strategies.describe(strategy))
  hparams = hyperparameters(fn_args, family)
  epochs = config.epochs
  steps_per_epoch = max(1, fn_args.train_steps // epochs)
  global_batch = config.batch_size * strategy.num_replicas_in_sync
  tf_transform_output = tft.TFTransformOutput(fn_args.transform_graph_path)
  train = dataset(fn_args, fn_args.train_files, tf_transform_output, family, global_batch,
                  config.seed)
  evaluation = dataset(fn_args, fn_args.eval_files, tf_transform_output, family, global_batch,
                       config.seed)
  private = Private(config.privacy, global_batch) if config.privacy.enabled else None
  scale = training_label_scale(fn_args.train_files, tf_transform_output, family)
  with strategy.scope():
    model = build_model(family, tf_transform_output, hparams,
                        learning_rate(config, hparams.get('learning_rate', config.learning_rate),
                                      steps_per_epoch * epochs),
                        config.clipnorm, private, scale)
  history = model.fit(train, epochs=epochs, steps_per_epoch=steps_per_epoch,
                      validation_data=evaluation, validation_steps=fn_args.eval_steps,
                      verbose=0, callbacks=_callbacks(fn_args, config, epochs))
  spent = (privacy_spent(private, fn_args.train_files,
                         steps_per_epoch * len(history.history['loss'])) if private else None)
  # Every worker saves (saving is collective); only the chief's copy is the model.
  chief = strategies.is_chief()
  output_dir = fn_args.serving_model_dir if chief else tempfile.mkdtemp()
  model.save(output_dir, save_format='tf',
             signatures=signatures.build(model, tf_transform_output, family))
  if chief:
    with tf.io.gfile.GFile(os.path.join(fn_args.model_run_dir, HISTORY_FILE), 'w') as out:
      json.dump({'hparams': hparams, 'strategy': strategies.describe(strategy),
                 'replicas': strategy.num_replicas_in_sync, 'epochs': history.history,
                 'privacy': spent,
                 'eval_predictions': (eval_predictions(model, fn_args.eval_files,
                                                       tf_transform_output, family)
                                      if family.is_regression else None)}, out, indent=1)
  else:
    tf.io.gfile.rmtree(output_dir)


def tuner_fn(fn_args, family: Family) -> TunerFnResult:
  """TFX Tuner entry point body: KerasTuner over the family's search space."""
  config = trainer_settings(fn_args)
  seed_randomness(config.seed)
  tuning = TuningSection.model_validate(fn_args.custom_config['tuning'])
  tf_transform_output = tft.TFTransformOutput(fn_args.transform_graph_path)
  fixed = family.hparams(fn_args.custom_config['hparams'])
  scale = training_label_scale(fn_args.train_files, tf_transform_output, family)

  def build(hp):
    hparams = {**fixed, **family.body.search_space(hp)}
    return build_model(family, tf_transform_output, hparams,
                       hparams.get('learning_rate', config.learning_rate), config.clipnorm,
                       label_scale=scale)

  tuner_class = (keras_tuner.BayesianOptimization if tuning.algorithm == 'bayesian'
                 else keras_tuner.RandomSearch)
  objective = (keras_tuner.Objective('val_rmse', 'min') if family.is_regression
               else keras_tuner.Objective('val_accuracy', 'max'))
  tuner = tuner_class(build, objective=objective,
                      max_trials=tuning.trials, directory=fn_args.working_dir,
                      project_name=f'{family.name}_tuning', overwrite=True, seed=config.seed)
  batch, seed = config.batch_size, config.seed
  return TunerFnResult(tuner=tuner, fit_kwargs={
      'x': dataset(fn_args, fn_args.train_files, tf_transform_output, family, batch, seed),
      'validation_data': dataset(fn_args, fn_args.eval_files, tf_transform_output, family,
                                 batch, seed),
      'steps_per_epoch': fn_args.train_steps,
      'validation_steps': fn_args.eval_steps,
      'verbose': 0,
  })


def entry_points(family: Family | Callable[[Dict], Family]):
  """(run_fn, tuner_fn) for a family's model.py: the functions TFX's Trainer and Tuner call.
  `family` has its body, or builds it from the config's spec (custom_config's family_spec)."""

  def family_of(fn_args) -> Family:
    return family if isinstance(family, Family) else family(fn_args.custom_config['family_spec'])

  def train(fn_args):
    run(fn_args, family_of(fn_args))

  def tune(fn_args):
    return tuner_fn(fn_args, family_of(fn_args))

  return train, tune
