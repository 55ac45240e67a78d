"""Differentially private training: DP-SGD trains a real model, and the epsilon reported by
the library's accountant is finite and falls as the noise grows."""
from base import env  # noqa: F401  (before TensorFlow)

import math

import pytest
import tensorflow_transform as tft

from base.settings import PrivacySection
from models.common import privacy, training
from models.common.family import load_family
from pipeline.config import ConfigError, load_config
from pipeline.summary import read_latest_run
from tests.conftest import write_config


def test_epsilon_is_finite_and_falls_as_noise_grows():
  spent = [privacy.epsilon(noise, batch_size=32, steps=500, dataset_size=242,
                           delta=privacy.default_delta(242)) for noise in (0.7, 1.1, 2.0, 4.0)]
  assert all(math.isfinite(e) and e > 0 for e in spent)
  assert spent == sorted(spent, reverse=True) and spent[0] > 2 * spent[-1]
  assert privacy.epsilon(1.1, 32, 1000, 242, 1e-4) > privacy.epsilon(1.1, 32, 500, 242, 1e-4)


def test_dp_sgd_trains_the_penguin_model_and_reports_what_it_spent(penguin_runs):
  outputs = read_latest_run(penguin_runs[0].config.metadata_path).outputs
  tft_output = tft.TFTransformOutput(outputs['Transform']['transform_graph'][0])
  family = load_family('penguin', with_body=True)
  private = training.Private(
      PrivacySection(enabled=True, noise_multiplier=1.1, l2_norm_clip=1.0), batch_size=32)
  model = training.build_model(family, tft_output, family.hparams(), 0.01, private=private)
  from tensorflow_privacy.privacy.optimizers.dp_optimizer_keras import GenericDPAdamOptimizer
  assert isinstance(model.optimizer, GenericDPAdamOptimizer)  # DP-SGD: clipped, noised
  assert model.optimizer._num_microbatches == 32  # one per example by default
  examples = outputs['Transform']['transformed_examples'][0]
  train = training.transformed_split(examples, 'train', tft_output, family, 32, repeat=True)
  history = model.fit(train, steps_per_epoch=100, epochs=1, verbose=0).history
  assert math.isfinite(history['loss'][-1]) and history['accuracy'][-1] > 0.5
  spent = training.privacy_spent(private, [f'{examples}/Split-train/*'], steps=100)
  assert spent['training_rows'] > 200 and math.isfinite(spent['epsilon'])
  assert spent['delta'] == pytest.approx(0.1 / spent['training_rows'])


def test_microbatches_must_divide_the_batch(tmp_path):
  path = write_config(tmp_path / 'c.yaml', 'penguin', training={
      'batch_size': 32, 'privacy': {'enabled': True, 'microbatches': 5}})
  with pytest.raises(ConfigError, match='microbatches'):
    load_config(path)
