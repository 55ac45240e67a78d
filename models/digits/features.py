"""Handwritten digits: which digit (0-9) an 8x8 grey-level image shows (scikit-learn's 1,797
real digits). The mobile showcase: small images, a CNN, every TFLite variant."""
from models.common.family import Family

FAMILY = Family(name='digits', label_key='digit', class_names=tuple(str(d) for d in range(10)))

PIXELS_KEY = 'pixels'
IMAGE_SIZE = 8
# load_digits counts ink in 4x4 blocks: each pixel is an integer grey level in [0, 16].
MAX_PIXEL_VALUE = 16.0
