"""tf.Transform preprocessing for digits: pixels scaled to [0, 1] by the dataset's fixed
grey-level range, so the mobile graph holds one constant and no analyzer lookups."""
import tensorflow as tf

from models.common import preprocessing
from models.common.family import transformed_name
from models.digits.features import FAMILY, MAX_PIXEL_VALUE, PIXELS_KEY


def preprocessing_fn(inputs):
  pixels = tf.cast(inputs[PIXELS_KEY], tf.float32)
  return {
      transformed_name(PIXELS_KEY): tf.clip_by_value(pixels / MAX_PIXEL_VALUE, 0.0, 1.0),
      FAMILY.transformed_label_key: preprocessing.int_class_index(
          inputs[FAMILY.label_key], len(FAMILY.class_names)),
  }
