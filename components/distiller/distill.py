"""Knowledge distillation (Hinton et al., 2015): a student learns from the hard labels and from
the teacher's predictions softened by a temperature. Keras has no distillation trainer, so
the training step is written here; the models, losses and optimizer are Keras's own."""
from __future__ import annotations

import tensorflow as tf

_EPSILON = 1e-7


def _logits(probabilities, binary: bool):
  """Our models output probabilities; distillation softens logits."""
  p = tf.clip_by_value(tf.cast(probabilities, tf.float32), _EPSILON, 1 - _EPSILON)
  return tf.math.log(p / (1 - p)) if binary else tf.math.log(p)


def soft_loss(teacher_probabilities, student_probabilities, temperature: float, binary: bool):
  """Cross-entropy between the tempered teacher and student distributions, times T^2 so
  its gradients keep their scale as the temperature changes."""
  teacher = _logits(teacher_probabilities, binary) / temperature
  student = _logits(student_probabilities, binary) / temperature
  if binary:
    loss = tf.keras.losses.binary_crossentropy(tf.sigmoid(teacher), tf.sigmoid(student))
  else:
    loss = tf.keras.losses.kl_divergence(tf.nn.softmax(teacher), tf.nn.softmax(student))
  return tf.reduce_mean(loss) * temperature ** 2


class Distillation(tf.keras.Model):
  """Trains `student` on alpha * hard-label loss + (1 - alpha) * soft loss; the teacher is
  only read."""

  def __init__(self, student: tf.keras.Model, teacher: tf.keras.Model, temperature: float,
               alpha: float, binary: bool):
    super().__init__()
    self.student, self.teacher = student, teacher
    self.temperature, self.alpha, self.binary = temperature, alpha, binary
    self.hard_loss = (tf.keras.losses.BinaryCrossentropy() if binary
                      else tf.keras.losses.SparseCategoricalCrossentropy())

  def train_step(self, data):
    features, labels = data
    teacher_probabilities = self.teacher(features, training=False)
    with tf.GradientTape() as tape:
      student_probabilities = self.student(features, training=True)
      hard = self.hard_loss(labels, student_probabilities)
      soft = soft_loss(teacher_probabilities, student_probabilities, self.temperature,
                       self.binary)
      loss = self.alpha * hard + (1 - self.alpha) * soft
    variables = self.student.trainable_variables
    self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
    return {'loss': loss, 'hard_loss': hard, 'soft_loss': soft}
