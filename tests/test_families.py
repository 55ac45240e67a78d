"""Each family's preprocessing_fn through tf.Transform on a few rows, and its model built
on the resulting transform output."""
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

from models.common import preprocessing, training
from models.penguin import features as penguin_features
from models.penguin import model as penguin_model
from models.penguin.preprocessing import preprocessing_fn as penguin_preprocessing
from models.taxi import features as taxi_features
from models.taxi import model as taxi_model
from models.taxi.preprocessing import preprocessing_fn as taxi_preprocessing

_SPARSE = tf.io.VarLenFeature

PENGUIN_SPEC = {
    'species': tf.io.FixedLenFeature([], tf.string),
    'island': tf.io.FixedLenFeature([], tf.string),
    'sex': _SPARSE(tf.string),
    'bill_length_mm': _SPARSE(tf.float32),
    'bill_depth_mm': _SPARSE(tf.float32),
    'flipper_length_mm': _SPARSE(tf.int64),
    'body_mass_g': _SPARSE(tf.int64),
}
PENGUIN_ROWS = [
    {'species': b'Adelie', 'island': b'Torgersen', 'sex': [b'male'], 'bill_length_mm': [39.1],
     'bill_depth_mm': [18.7], 'flipper_length_mm': [181], 'body_mass_g': [3750]},
    {'species': b'Gentoo', 'island': b'Biscoe', 'sex': [b'female'], 'bill_length_mm': [46.5],
     'bill_depth_mm': [13.5], 'flipper_length_mm': [210], 'body_mass_g': [4550]},
    # A bird with every measurement missing, as in the real data.
    {'species': b'Chinstrap', 'island': b'Dream', 'sex': [], 'bill_length_mm': [],
     'bill_depth_mm': [], 'flipper_length_mm': [], 'body_mass_g': []},
    {'species': b'Emperor', 'island': b'Dream', 'sex': [b'male'], 'bill_length_mm': [50.0],
     'bill_depth_mm': [19.0], 'flipper_length_mm': [196], 'body_mass_g': [3800]},
]

TAXI_SPEC = {key: _SPARSE(tf.float32) for key in (
    'trip_miles', 'fare', 'trip_seconds', 'tips', 'pickup_latitude', 'pickup_longitude',
    'dropoff_latitude', 'dropoff_longitude')}
TAXI_SPEC.update({key: _SPARSE(tf.int64) for key in (
    'trip_start_hour', 'trip_start_day', 'trip_start_month', 'pickup_census_tract',
    'dropoff_census_tract', 'pickup_community_area', 'dropoff_community_area')})
TAXI_SPEC.update({key: _SPARSE(tf.string) for key in ('payment_type', 'company')})


def _taxi_row(fare, tips, company=b'Flash Cab', hour=9):
  row = {key: [] for key in TAXI_SPEC}
  row.update(trip_miles=[2.0], fare=[] if fare is None else [fare], tips=[tips],
             trip_seconds=[600.0], pickup_latitude=[41.9], pickup_longitude=[-87.6],
             trip_start_hour=[hour], trip_start_day=[3], trip_start_month=[5],
             payment_type=[b'Cash'], company=[company], pickup_community_area=[8])
  return row


TAXI_ROWS = [_taxi_row(10.0, 3.0), _taxi_row(10.0, 1.0, b'Taxi Affiliation'),
             _taxi_row(None, 0.0, hour=30), _taxi_row(20.0, 5.0)]


def _transform(preprocessing_fn, spec, rows, out_dir):
  metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(spec))
  with tft_beam.Context(temp_dir=str(out_dir / 'tmp'), force_tf_compat_v1=False):
    (transformed, _), transform_fn = (
        (rows, metadata) | tft_beam.AnalyzeAndTransformDataset(preprocessing_fn))
    _ = transform_fn | tft_beam.WriteTransformFn(str(out_dir / 'transform'))
  return transformed, tft.TFTransformOutput(str(out_dir / 'transform'))


@pytest.fixture(scope='module')
def penguin_transformed(tmp_path_factory):
  return _transform(penguin_preprocessing, PENGUIN_SPEC, PENGUIN_ROWS,
                    tmp_path_factory.mktemp('penguin_tft'))


@pytest.fixture(scope='module')
def taxi_transformed(tmp_path_factory):
  return _transform(taxi_preprocessing, TAXI_SPEC, TAXI_ROWS,
                    tmp_path_factory.mktemp('taxi_tft'))


def test_penguin_labels_follow_the_declared_class_order(penguin_transformed):
  rows, _ = penguin_transformed
  assert [row['species_xf'] for row in rows] == [0, 2, 1, -1]


def test_penguin_numbers_are_z_scored_with_missing_values_at_the_mean(penguin_transformed):
  rows, _ = penguin_transformed
  bills = np.array([row['bill_length_mm_xf'] for row in rows])
  assert abs(bills[2]) < 1e-6  # missing -> mean -> 0 after scaling
  present = bills[[0, 1, 3]]
  assert abs(present.mean()) < 1e-5 and abs(present.std() - 1) < 0.25


def test_penguin_categories_get_vocabulary_indices(penguin_transformed):
  rows, output = penguin_transformed
  sexes = [row['sex_xf'] for row in rows]
  assert sexes[0] == sexes[3] != sexes[1]  # male, male, female
  assert training.num_categories(output, 'sex') == 2
  assert sexes[2] == preprocessing.NO_CATEGORY  # missing: no category, an all-zero one-hot


def test_taxi_codes_are_bucketized_hashed_and_looked_up(taxi_transformed):
  rows, _ = taxi_transformed
  assert all(0 <= row['pickup_latitude_xf'] < taxi_features.BUCKET_COUNT for row in rows)
  # Missing census tract (every row here): the last hash bucket.
  assert {row['pickup_census_tract_xf'] for row in rows} == {taxi_features.HASH_BUCKETS - 1}
  companies = [row['company_xf'] for row in rows]
  assert companies[0] == companies[2] == companies[3] != companies[1]


def test_taxi_label_is_tip_over_20_percent_of_fare(taxi_transformed):
  rows, _ = taxi_transformed
  assert [row['tips_xf'] for row in rows] == [1, 0, 0, 1]


def test_taxi_hours_are_clipped_to_their_range(taxi_transformed):
  rows, _ = taxi_transformed
  assert rows[2]['trip_start_hour_xf'] == 23


def _batch(rows, output, label_key):
  spec = output.transformed_feature_spec()
  features = {name: tf.constant([row[name] for row in rows], spec[name].dtype)
              for name in spec if name != label_key}
  return features, np.array([max(row[label_key], 0) for row in rows])


@pytest.mark.parametrize('family_name', ['penguin', 'taxi'])
def test_model_trains_and_outputs_probabilities(family_name, penguin_transformed,
                                                taxi_transformed):
  features_module, model_module, (rows, output) = {
      'penguin': (penguin_features, penguin_model, penguin_transformed),
      'taxi': (taxi_features, taxi_model, taxi_transformed),
  }[family_name]
  family = features_module.FAMILY.with_body(model_module.BODY)
  model = training.build_model(family, output, family.hparams(), 0.05)
  features, labels = _batch(rows, output, family.transformed_label_key)
  probabilities = model(features).numpy()
  if family.is_binary:
    assert probabilities.shape == (len(rows), 1)
    assert ((probabilities >= 0) & (probabilities <= 1)).all()
  else:
    assert probabilities.shape == (len(rows), len(family.class_names))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
  history = model.fit(features, labels, epochs=60, verbose=0)
  assert history.history['accuracy'][-1] == 1.0  # a few rows are memorised
