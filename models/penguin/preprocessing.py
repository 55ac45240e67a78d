"""tf.Transform preprocessing for penguins."""
from models.common import preprocessing
from models.common.family import transformed_name
from models.penguin.features import CATEGORICAL_FEATURES, FAMILY, NUMERIC_FEATURES


def preprocessing_fn(inputs):
  outputs = {}
  for key in NUMERIC_FEATURES:
    outputs[transformed_name(key)] = preprocessing.numeric(inputs[key])
  for key in CATEGORICAL_FEATURES:
    outputs[transformed_name(key)] = preprocessing.categorical(inputs[key], key)
  outputs[FAMILY.transformed_label_key] = preprocessing.class_index(
      inputs[FAMILY.label_key], FAMILY.class_names)
  return outputs
