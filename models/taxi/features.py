"""Chicago taxi trips: will the tip be more than 20% of the fare? (TFX's reference workload)."""
from models.common.family import Family

FARE_KEY = 'fare'
DENSE_FLOAT_FEATURES = ('trip_miles', 'fare', 'trip_seconds')
# Coordinates bucketized into quantiles.
BUCKET_FEATURES = ('pickup_latitude', 'pickup_longitude', 'dropoff_latitude',
                   'dropoff_longitude')
BUCKET_COUNT = 10
# Integers whose range is known: one-hot over [0, size).
RANGED_INTEGERS = {'trip_start_hour': 24, 'trip_start_day': 8, 'trip_start_month': 13,
                  'pickup_community_area': 78, 'dropoff_community_area': 78}
# Strings: vocabulary of the most frequent values.
VOCAB_FEATURES = ('payment_type', 'company')
VOCAB_SIZE = 1000
# Large integer codes, folded into a prime number of buckets.
HASHED_FEATURES = ('pickup_census_tract', 'dropoff_census_tract')
HASH_BUCKETS = 1009

FAMILY = Family(name='taxi', label_key='tips',
                class_names=('tip_at_most_20pct', 'tip_over_20pct'),
                vocabulary_features=VOCAB_FEATURES)
