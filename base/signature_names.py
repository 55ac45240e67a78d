"""The exported SavedModel's signature names (see signatures.py), in a module of their own
so that clients and the serving check can name them without importing TensorFlow
Transform."""
SERVING_DEFAULT = 'serving_default'
SERVING_RAW = 'serving_raw'
TRANSFORM_FEATURES = 'transform_features'
MOBILE = 'mobile'
# The mobile signature's input when a family's mobile_input is an image or token ids.
MOBILE_IMAGE = 'image'
MOBILE_TOKEN_IDS = 'token_ids'
