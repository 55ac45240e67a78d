"""Text classification: a label from a free-text column (the IMDB sample in the tfx wheel,
100 reviews; or any CSV with `text` and an integer `label` column: 0 negative, 1 positive).

Tokenization sizes are fixed here, where both Transform and the model read them; the
Transformer's sizes come from the config's model.hparams."""
from models.common.family import Family

TEXT_FEATURE = 'text'
SEQUENCE_LENGTH = 128  # tokens kept per text; shorter texts are padded with PADDING
VOCABULARY_SIZE = 10000  # most frequent training tokens with their own id
OOV_BUCKETS = 50  # tokens outside the vocabulary are hashed into these ids
PADDING = 0  # token id of padding; vocabulary ids start at 1

FAMILY = Family(name='text', label_key='label', class_names=('negative', 'positive'))
