"""Handwritten digits: which digit (0-9) an 8x8 grey-level image shows (scikit-learn's 1,797
real digits). The mobile showcase: small images, a CNN, every TFLite variant."""
from models.common.family import Family, ImageInput

PIXELS_KEY = 'pixels'
IMAGE_SIZE = 8

# On a phone: an 8x8 RGB image of grey levels (the Task Library's ImageClassifier).
FAMILY = Family(name='digits', label_key='digit', class_names=tuple(str(d) for d in range(10)),
                mobile_input=ImageInput(PIXELS_KEY, IMAGE_SIZE, IMAGE_SIZE))
# load_digits counts ink in 4x4 blocks: each pixel is an integer grey level in [0, 16].
MAX_PIXEL_VALUE = 16.0
