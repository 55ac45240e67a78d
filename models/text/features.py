"""Text classification: a label from a free-text column (the IMDB sample in the tfx wheel,
100 reviews; or any CSV with `text` and an integer `label` column: 0 negative, 1 positive).

Tokenization sizes are fixed here, where both Transform and the model read them; the
Transformer's sizes come from the config's model.hparams."""
from models.common.family import Family, TokenInput

TEXT_FEATURE = 'text'
SEQUENCE_LENGTH = 128  # tokens kept per text; shorter texts are padded with PADDING
VOCABULARY_SIZE = 10000  # most frequent training tokens with their own id
OOV_BUCKETS = 1  # one id for every token outside the vocabulary, as the phone's tokenizer has
PADDING = 0  # token id of padding; vocabulary ids start at 1
# RE2 pattern between words (RE2 in Transform and in the Task Library's regex tokenizer alike):
# HTML line breaks (IMDB has them) and anything but ASCII letters, digits and apostrophes.
# ('<' is left out of the second class so that ". <br />" is not read as ". <", "br", " />".)
TOKEN_DELIMITER = r"<[bB][rR]\s*/?>|[^A-Za-z0-9'<]+|<"

# On a phone: token ids from the Task Library's regex tokenizer (NLClassifier), with the
# vocabulary the ModelOptimizer writes into the .tflite file's metadata.
FAMILY = Family(name='text', label_key='label', class_names=('negative', 'positive'),
                mobile_input=TokenInput(TEXT_FEATURE, SEQUENCE_LENGTH, TOKEN_DELIMITER, PADDING))
