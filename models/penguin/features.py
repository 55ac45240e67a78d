"""Palmer penguins: species from body measurements, island and sex (344 birds)."""
from models.common.family import Family

NUMERIC_FEATURES = ('bill_length_mm', 'bill_depth_mm', 'flipper_length_mm', 'body_mass_g')
CATEGORICAL_FEATURES = ('island', 'sex')

FAMILY = Family(name='penguin', label_key='species',
                class_names=('Adelie', 'Chinstrap', 'Gentoo'),
                vocabulary_features=CATEGORICAL_FEATURES)
