"""The config sections that travel into executors as exec properties (JSON) and are
validated again there, into these same models: one definition of each setting and its
default. pipeline/config.py composes them into the whole config; models/ and components/
read them with `from_exec_property`. Pydantic only: no TensorFlow, no YAML."""
from __future__ import annotations

import json
from typing import Any, Dict, List, Literal, Optional, Tuple, Type, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# tf.distribute strategies models/common/strategy.py builds; auto: mirrored on 2+ GPUs.
STRATEGY_KINDS = ('default', 'mirrored', 'multi_worker_mirrored', 'tpu', 'auto')
# TFLite variant -> the model it is converted from (the Trainer's, pruned, or pruned and
# quantization-aware trained), in build order: trained-model variants first, so a graph
# TFLite cannot take fails before any fine-tuning.
TFLITE_SOURCES = {
    'float32': 'trained', 'dynamic_range': 'trained', 'float16': 'trained', 'int8': 'trained',
    'pruned_int8': 'pruned', 'pruned_qat_int8': 'qat',
}
TFLITE_VARIANTS = tuple(TFLITE_SOURCES)


class Section(BaseModel):
  model_config = ConfigDict(extra='forbid', validate_assignment=True)


class StrategySection(Section):
  kind: Literal[STRATEGY_KINDS] = Field(
      'default', description='tf.distribute strategy; auto: mirrored on 2+ GPUs, else default.')
  devices: List[str] = Field(default_factory=list,
                             description='mirrored: devices to use (default: all local GPUs).')
  tpu: Optional[str] = Field(None, description='tpu: TPU name or grpc://host:8470.')
  logical_cpus: int = Field(
      0, ge=0, description='Split the CPU into N logical devices (try mirrored without GPUs).')

  @model_validator(mode='after')
  def _tpu_named(self) -> 'StrategySection':
    if self.kind == 'tpu' and not self.tpu:
      raise ValueError('training.strategy.tpu is required with kind tpu '
                       '(a TPU name or grpc://host:8470)')
    return self


class PrivacySection(Section):
  """DP-SGD in the Trainer (tensorflow-privacy); the run reports the (epsilon, delta) spent."""
  enabled: bool = False
  noise_multiplier: float = Field(1.1, gt=0, description='Noise std / clipping norm; more '
                                  'noise spends less epsilon.')
  l2_norm_clip: float = Field(1.0, gt=0, description='Per-example gradient norm bound.')
  microbatches: Optional[int] = Field(
      None, ge=1, description='Gradient clipping groups per batch (default: one per example); '
      'must divide training.batch_size.')
  delta: Optional[float] = Field(None, gt=0, lt=1, description='Default 0.1 / training rows.')


class TrainingSection(Section):
  epochs: int = Field(10, ge=1)
  train_steps: int = Field(1000, ge=1, description='Total training steps over all epochs.')
  eval_steps: int = Field(50, ge=1, description='Validation steps after each epoch.')
  batch_size: int = Field(64, ge=1, description='Per replica; global = this x replicas.')
  learning_rate: float = Field(0.01, gt=0)
  lr_schedule: Literal['constant', 'cosine'] = 'constant'
  warmup_steps: int = Field(0, ge=0, description='Linear warm-up before the schedule.')
  clipnorm: Optional[float] = Field(None, gt=0, description='Gradient clipping by norm.')
  early_stopping_patience: Optional[int] = Field(
      None, ge=1, description='Stop after this many epochs without a better eval loss.')
  mixed_precision: Literal['none', 'mixed_float16', 'mixed_bfloat16'] = 'none'
  seed: Optional[int] = Field(
      0, ge=0, description='Seeds weight initialization, dropout and the order of training '
      'batches (Trainer, Tuner, Distiller, pruning and QAT), so the same data and config '
      'train the same model on the same machine; null draws fresh randomness each run.')
  strategy: StrategySection = Field(default_factory=StrategySection)
  privacy: PrivacySection = Field(default_factory=PrivacySection)

  @model_validator(mode='after')
  def _private_batches_split(self) -> 'TrainingSection':
    microbatches = self.privacy.microbatches
    if self.privacy.enabled and microbatches and self.batch_size % microbatches:
      raise ValueError(f'training.privacy.microbatches ({microbatches}) must divide '
                       f'training.batch_size ({self.batch_size})')
    if self.privacy.enabled and self.clipnorm:
      raise ValueError('training.clipnorm and training.privacy both clip gradients; DP-SGD '
                       'clips per example (privacy.l2_norm_clip): remove clipnorm')
    return self

  @model_validator(mode='after')
  def _steps_cover_epochs(self) -> 'TrainingSection':
    if self.train_steps < self.epochs:
      raise ValueError(
          f'training.train_steps ({self.train_steps}) must be at least training.epochs '
          f'({self.epochs}): every epoch needs one step')
    return self


class TuningSection(Section):
  """An optional TFX Tuner stage (KerasTuner) whose best hyperparameters feed the Trainer."""
  enabled: bool = False
  algorithm: Literal['random', 'bayesian'] = 'random'
  trials: int = Field(5, ge=1)
  train_steps: int = Field(200, ge=1, description='Training steps per trial.')
  eval_steps: int = Field(20, ge=1)


class DistillationSection(Section):
  """A Distiller stage: the Trainer's model teaches a smaller student of the same family,
  which then goes to the ModelOptimizer (and so to mobile) in the teacher's place; TF
  Serving keeps the teacher."""
  enabled: bool = False
  student_hparams: Dict[str, float | int | str | List[int]] = Field(
      default_factory=dict, description="The student's model.hparams (missing ones: the "
      "family's defaults), e.g. smaller layers.")
  temperature: float = Field(4.0, gt=0, description='Softens the teacher\'s predictions.')
  alpha: float = Field(0.1, ge=0, le=1, description='Weight of the hard-label loss; the '
                       'rest goes to matching the teacher.')
  steps: int = Field(500, ge=1, description='Student training steps.')
  learning_rate: float = Field(0.003, gt=0)


class OptimizationSection(Section):
  """The ModelOptimizer stage: pruning, quantization-aware training and TFLite variants,
  each measured with the LiteRT interpreter; the smallest variant within budget goes to
  outputs.mobile_dir."""
  enabled: bool = False
  variants: List[Literal[TFLITE_VARIANTS]] = Field(
      default_factory=lambda: list(TFLITE_VARIANTS),
      description='TFLite variants to build; pruned_* and *qat* also train those models.')
  @field_validator('variants')
  @classmethod
  def _build_order(cls, value: List[str]) -> List[str]:
    return sorted(set(value), key=TFLITE_VARIANTS.index)

  target_sparsity: float = Field(0.75, gt=0, lt=1, description='Pruned kernels\' zero fraction.')
  prune_steps: int = Field(300, ge=10, description='Fine-tuning steps while pruning.')
  qat_steps: int = Field(200, ge=1, description='Quantization-aware training steps.')
  learning_rate: float = Field(0.001, gt=0, description='Fine-tuning learning rate.')
  accuracy_budget: float = Field(
      1.0, ge=0, description='Largest accuracy drop (points) against the float SavedModel.')
  rmse_budget: float = Field(
      0.05, ge=0, description='Regression: largest relative RMSE increase against the float '
      'SavedModel (0.05: 5%).')
  size_budget_kb: Optional[float] = Field(None, gt=0, description='Largest .tflite file size.')
  int8_io: bool = Field(False, description='int8 variants take and return int8 tensors.')
  calibration_rows: int = Field(200, ge=1, description='Training rows for int8 calibration.')
  eval_rows: int = Field(2000, ge=1, description='Eval rows each variant is measured on.')
  latency_runs: int = Field(200, ge=10, description='Batch-1 invocations timed per variant.')
  threads: int = Field(1, ge=1, description='LiteRT interpreter threads when timing.')


class Owner(Section):
  name: str
  contact: Optional[str] = None


class EthicalConsideration(Section):
  name: str = Field(description='A risk, e.g. "under-represented groups in the data".')
  mitigation_strategy: str = Field(description='What was done about it.')


class ModelCardSection(Section):
  """What the model card of every pushed version says that the data cannot: who owns the
  model, what it is for, where it fails (forge init writes TODOs to fill in)."""
  overview: str = Field('', description='What the model does, in a sentence or two.')
  owners: List[Owner] = Field(default_factory=list)
  users: List[str] = Field(default_factory=list, description='Who the model is meant for.')
  use_cases: List[str] = Field(default_factory=list, description='Intended uses.')
  limitations: List[str] = Field(default_factory=list, description='Known limitations.')
  tradeoffs: List[str] = Field(default_factory=list)
  ethical_considerations: List[EthicalConsideration] = Field(default_factory=list)
  references: List[str] = Field(default_factory=list)


S = TypeVar('S', bound=Section)


def to_exec_property(section: Section, **extra: Any) -> str:
  """A section and what travels beside it (e.g. the family's code fingerprint), as the
  JSON string exec property an executor reads back with from_exec_property."""
  return json.dumps({'section': section.model_dump(mode='json'), **extra}, sort_keys=True)


def from_exec_property(text: str, section_type: Type[S]) -> Tuple[S, Dict[str, Any]]:
  """The section, validated again (defaults filled, bad values refused), and the rest."""
  payload = json.loads(text)
  return section_type.model_validate(payload.pop('section')), payload
