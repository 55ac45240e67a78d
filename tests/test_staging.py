"""Publishing a pushed version where rename is not atomic (gs://, s3://): every file is
copied before the one a reader waits for, so TF Serving never loads half a model."""
from components.common import staging


def _staged(tmp_path):
  staged = tmp_path / '.partial-7'
  (staged / 'variables').mkdir(parents=True)
  (staged / 'assets.extra').mkdir()
  for name in ('saved_model.pb', 'variables/variables.index',
               'variables/variables.data-00000-of-00001', 'assets.extra/tf_serving_warmup_requests',
               'fingerprint.pb'):
    (staged / name).write_bytes(name.encode())
  return staged


def test_object_store_publish_copies_saved_model_pb_last(tmp_path, monkeypatch):
  staged = _staged(tmp_path)
  target = tmp_path / '7'
  copied = []
  real_copy = staging.tf.io.gfile.copy

  def recording_copy(source, destination, overwrite=False):
    # What a server polling `target` would see when this copy lands.
    assert not (target / 'saved_model.pb').exists(), 'saved_model.pb was not last'
    copied.append(str(destination)[len(str(target)) + 1:])
    real_copy(source, destination, overwrite)

  monkeypatch.setattr(staging, 'renames_atomically', lambda path: False)
  monkeypatch.setattr(staging.tf.io.gfile, 'copy', recording_copy)
  staging.publish(str(staged), str(target), last_file='saved_model.pb')
  assert copied[-1] == 'saved_model.pb'
  assert sorted(copied) == sorted(['saved_model.pb', 'fingerprint.pb',
                                   'variables/variables.index',
                                   'variables/variables.data-00000-of-00001',
                                   'assets.extra/tf_serving_warmup_requests'])
  assert (target / 'variables' / 'variables.index').read_bytes() == b'variables/variables.index'


def test_local_publish_is_one_rename(tmp_path):
  staged = _staged(tmp_path)
  staging.publish(str(staged), str(tmp_path / '7'), last_file='saved_model.pb')
  assert not staged.exists() and (tmp_path / '7' / 'saved_model.pb').is_file()


def test_uri_schemes_are_not_renamed():
  assert staging.renames_atomically('/srv/models/penguin/7')
  assert not staging.renames_atomically('gs://bucket/models/penguin/7')
  assert not staging.renames_atomically('s3://bucket/models/penguin/7')
