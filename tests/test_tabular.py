"""Your own table, no code: `forge init NAME --data PATH --label COLUMN`, the tabular family
and regression. Unit tests of the profiling and the refusals run without a pipeline; two
session runs (wine from scikit-learn with a string label, diabetes as a regression), each
from a clean working directory as a new user would, serve the end-to-end assertions."""
import csv
import json
import math
import random
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import yaml

from tests.conftest import PROJECT_DIR, across_classes, forge_in, write_csv

EXIT_OK, EXIT_NOT_BLESSED, EXIT_CONFIG = 0, 4, 2


# --- What forge init finds in a table -------------------------------------------------

@pytest.fixture(scope='module')
def mixed_table(tmp_path_factory):
  """A table with every kind of column forge init must recognise, 300 rows."""
  rng = random.Random(7)
  rows = []
  for index in range(300):
    colour = rng.choice(['red', 'green', 'blue', 'amber'])
    size = rng.gauss(10, 2)
    rows.append([
        1000 + index,                                  # row_id: consecutive, unique
        'same',                                        # constant
        f'{size:.3f}',                                 # size: numeric
        f'{rng.expovariate(0.01):.2f}',                # income: skewed
        colour,                                        # colour: categorical
        rng.randint(0, 5),                             # grade: integer code
        f'2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}',  # signup: date
        ' '.join(rng.choice(['good', 'bad', 'late', 'ok', 'fine', 'slow', 'fast'])
                 for _ in range(12)) + f' #{index}',   # comment: free text
        '' if rng.random() < 0.2 else f'{rng.random():.3f}',  # score: 20% missing
        'yes' if size + (colour == 'red') * 2 > 10.5 else 'no',  # label
    ])
  header = ['row_id', 'constant', 'size', 'income', 'colour', 'grade', 'signup', 'comment',
            'score', 'bought']
  work = tmp_path_factory.mktemp('mixed')
  return write_csv(work / 'mixed.csv', header, rows)


def _profile(path, label, task=None):
  from components.example_gen.in_process import csv_examples
  from pipeline.table_profile import profile
  return profile(csv_examples([str(path)]), label, task, str(path))


def test_roles_ids_constants_dates_and_text(mixed_table):
  found = _profile(mixed_table, 'bought')
  roles = {name: column.role for name, column in found.columns.items()}
  assert roles == {'row_id': '', 'constant': '', 'size': 'numeric', 'income': 'skewed',
                   'colour': 'categorical', 'grade': 'integer_code', 'signup': '',
                   'comment': '', 'score': 'numeric', 'bought': ''}
  why = {name: column.why for name, column in found.columns.items()}
  assert 'ID-like' in why['row_id'] and 'constant' in why['constant']
  assert 'dates' in why['signup'] and 'free text' in why['comment']
  assert 'vocabulary of 4' in why['colour']
  assert abs(found.columns['score'].missing_rate(found.rows) - 0.2) < 0.06
  assert found.task == 'classification' and found.classes == ['no', 'yes']


def test_describe_prints_balance_roles_and_missing_rates(mixed_table):
  from pipeline.table_init import describe
  lines = describe(_profile(mixed_table, 'bought'))
  text = '\n'.join(lines)
  assert '300 rows, 10 columns.' in text
  assert "Label 'bought' (string): classification" in text
  assert any(line.strip().startswith('class yes:') and '%' in line for line in lines)
  (score,) = [line for line in lines if line.strip().startswith('score')]
  assert 'missing' in score and '-> numeric' in score
  (row_id,) = [line for line in lines if line.strip().startswith('row_id')]
  assert 'left out: ID-like' in row_id


def test_task_follows_the_label_and_can_be_overridden(mixed_table):
  assert _profile(mixed_table, 'size').task == 'regression'
  assert _profile(mixed_table, 'grade').task == 'classification'
  assert _profile(mixed_table, 'grade').classes == [str(v) for v in range(6)]
  assert _profile(mixed_table, 'grade', 'regression').task == 'regression'
  from pipeline.table_profile import ProfileError
  with pytest.raises(ProfileError, match="--task regression: the label 'colour' holds text"):
    _profile(mixed_table, 'colour', 'regression')
  with pytest.raises(ProfileError, match='--task classification: the label .size. holds '
                                         'fractional'):
    _profile(mixed_table, 'size', 'classification')


@pytest.mark.parametrize('label, expected', [
    ('price', "--label 'price': .* has no such column; its columns are bought, colour"),
    ('constant', "--label 'constant': the column holds one value \\(b?'same'\\)"),
])
def test_unusable_labels_are_refused_naming_the_columns(mixed_table, label, expected):
  from pipeline.table_profile import ProfileError
  with pytest.raises(ProfileError, match=expected):
    _profile(mixed_table, label)


def test_an_all_empty_label_is_refused(tmp_path):
  path = write_csv(tmp_path / 't.csv', ['x', 'y'], [[i, ''] for i in range(30)])
  code, out = forge_in(tmp_path, 'init', 't', '--data', str(path), '--label', 'y')
  assert code == EXIT_CONFIG, out
  assert "--label 'y': every value of the column is empty" in out


def test_init_writes_into_the_working_directory_and_refuses_to_overwrite(mixed_table,
                                                                         tmp_path):
  code, out = forge_in(tmp_path, 'init', 'shop', '--data', str(mixed_table), '--label',
                     'bought')
  assert code == EXIT_OK, out
  assert (tmp_path / 'configs' / 'shop.yaml').is_file()
  assert (tmp_path / 'schemas' / 'shop' / 'schema.pbtxt').is_file()
  assert not (PROJECT_DIR / 'configs' / 'shop.yaml').exists()
  config = yaml.safe_load((tmp_path / 'configs' / 'shop.yaml').read_text())
  assert config['model']['features'] == {'numeric': ['score', 'size'], 'skewed': ['income'],
                                         'categorical': ['colour'], 'integer_code': ['grade']}
  majority = max(sum(1 for r in csv.DictReader(open(mixed_table)) if r['bought'] == v)
                 for v in ('yes', 'no')) / 300
  assert config['gates']['metrics']['accuracy']['min'] > majority
  code, out = forge_in(tmp_path, 'init', 'shop', '--data', str(mixed_table), '--label',
                     'bought')
  assert code == EXIT_CONFIG and 'already exists' in out


@pytest.fixture(scope='module')
def hard_survey(tmp_path_factory):
  """A survey of four 1-5 answers and a car model name (mostly unique) whose yes/no answer
  the first two answers move a few points: forge init, in this process."""
  from pipeline import table_init
  rng = random.Random(3)
  rows = []
  for _ in range(900):
    answers = [rng.randint(1, 5) for _ in range(4)]
    rate = 0.6 + 0.08 * (answers[0] - 3) + 0.04 * (answers[1] - 3)
    rows.append(answers + [f'car {rng.randrange(600)}', 'yes' if rng.random() < rate else 'no'])
  work = tmp_path_factory.mktemp('survey')
  data = write_csv(work / 'survey.csv', ['q1', 'q2', 'q3', 'q4', 'car', 'happy'], rows)
  _, found = table_init.init_from_data('survey', data, 'happy', out_dir=work)
  config = yaml.safe_load((work / 'configs' / 'survey.yaml').read_text())
  return found, config, '\n'.join(table_init.describe(found))


def test_the_init_gate_on_a_hard_table_is_one_the_peer_passes(hard_survey):
  """The old bar (majority + a tenth of the gap) sat above what any model reached on such
  tables; now it sits below HistGradientBoosting's score on the pipeline's own split, and
  never below always answering the most frequent class."""
  found, config, text = hard_survey
  gate = config['gates']['metrics']['accuracy']['min']
  assert found.peer.trivial < gate <= found.peer.score  # a constant model fails it
  assert found.peer.score > found.peer.trivial  # the table has some signal, a little
  assert f'HistGradientBoosting scores accuracy {found.peer.score:.4f}' in text
  assert found.peer.eval_rows == 297  # a third of 900 rows, the pipeline's split


def test_init_reports_the_repetition_and_leaves_out_mostly_unique_strings(hard_survey):
  found, config, text = hard_survey
  assert 'car' not in sum(config['model']['features'].values(), [])
  assert 'ID-like' in found.columns['car'].why and 'mostly unique' in found.columns['car'].why
  repeated = found.repetition
  assert repeated.distinct_rows <= 5 ** 4 and repeated.repeated_rows > 300
  assert repeated.conflicting_rows > 0 and 0.5 < repeated.best_accuracy < 1
  assert f'{repeated.distinct_rows} distinct feature rows in 900' in text


def test_the_peer_fits_a_class_with_a_single_training_row():
  """Early stopping holds out a stratified share, which one row of a class breaks: forge init
  stopped with scikit-learn's traceback."""
  from pipeline import table_baseline
  sample = table_baseline.Sample(1 / 3)
  for number in range(300):
    label = 'rare' if number == 0 else ('yes' if number % 3 else 'no')
    example = tf.train.Example(features=tf.train.Features(feature={
        'x': tf.train.Feature(float_list=tf.train.FloatList(value=[number % 3 + 0.5])),
        'y': tf.train.Feature(bytes_list=tf.train.BytesList(value=[label.encode()]))}))
    sample.add('t.csv', number, example)
  peer = table_baseline.fit_peer(sample, 'y', {'x': 'numeric'}, 'classification')
  assert peer.score > 0.9 > peer.trivial + 0.1  # x decides the label; a constant scores 2/3


# --- The config and the family contract -----------------------------------------------

def test_tabular_config_needs_its_description(tmp_path):
  from pipeline.config import ConfigError, load_config
  from tests.conftest import write_config
  path = write_config(tmp_path / 'c.yaml', 'penguin', model={'family': 'tabular'})
  with pytest.raises(ConfigError, match='model.family tabular needs model.label'):
    load_config(path)
  path = write_config(tmp_path / 'd.yaml', 'penguin', model={
      'family': 'tabular', 'label': 'species', 'task': 'classification', 'classes': ['a'],
      'features': {'numeric': ['bill_length_mm']}})
  with pytest.raises(ConfigError, match='at least two label values'):
    load_config(path)
  path = write_config(tmp_path / 'e.yaml', 'penguin', gates={'metrics': {
      'rmse': {'min': 3.0}}})
  with pytest.raises(ConfigError, match='gates.metrics.rmse: lower is better'):
    load_config(path)


def test_a_family_without_classes_is_refused():
  from models.common.family import Family
  with pytest.raises(ValueError, match='needs at least two class names'):
    Family(name='x', label_key='y', class_names=())
  with pytest.raises(ValueError, match='has no class names'):
    Family(name='x', label_key='y', task='regression', class_names=('a', 'b'))


def test_regression_gates_point_the_right_way():
  import tensorflow_model_analysis as tfma
  from models.common.family import Family
  from pipeline.config import GatesSection
  from pipeline.evaluation import eval_config
  family = Family(name='tabular', label_key='y', task='regression')
  config = eval_config(family, GatesSection(metrics={'rmse': {'max': 50.0,
                                                              'max_increase': 2.0}}))
  assert config.model_specs[0].prediction_key == 'prediction'
  (rmse,) = [m for m in config.metrics_specs[0].metrics
             if m.class_name == 'RootMeanSquaredError']
  threshold = rmse.per_slice_thresholds[0].threshold
  assert threshold.value_threshold.upper_bound.value == 50.0
  assert threshold.change_threshold.direction == tfma.MetricDirection.LOWER_IS_BETTER
  assert threshold.change_threshold.absolute.value == 2.0
  with pytest.raises(ValueError, match='a classification metric'):
    eval_config(family, GatesSection(metrics={'accuracy': {'min': 0.5}}))


# --- End to end, as a new user ------------------------------------------------------

def _pushed(work: Path, kind: str, name: str) -> Path:
  (version,) = sorted((work / 'build' / kind / name).iterdir())
  return version


def test_wine_is_pushed_to_serving_and_mobile_without_python(wine):
  work, _, init_out, code, run_out, _ = wine
  assert code == EXIT_OK, run_out
  assert 'classification' in init_out and 'class class_1: 71 rows' in init_out
  assert "'od280/od315_of_diluted_wines' -> 'od280_od315_of_diluted_wines'" in init_out
  assert 'Blessed. Pushed to' in run_out and 'Mobile: ' in run_out
  assert not (work / 'models').exists()  # no Python was written
  assert (_pushed(work, 'serving', 'wine') / 'saved_model.pb').is_file()
  mobile = _pushed(work, 'mobile', 'wine')
  assert (mobile / 'labels.txt').read_text().split() == ['class_0', 'class_1', 'class_2']


def test_wine_signatures_answer_with_the_class_names_of_the_data(wine):
  work, data, *_ = wine
  loaded = tf.saved_model.load(str(_pushed(work, 'serving', 'wine')))
  assert set(loaded.signatures) == {'serving_default', 'serving_raw', 'transform_features',
                                    'mobile'}
  raw = loaded.signatures['serving_raw']
  specs = raw.structured_input_signature[1]
  assert 'od280_od315_of_diluted_wines' in specs  # the '/' column, under its safe name
  # 10 wines of each cultivar: the file is sorted by class, its first 20 rows all class_0.
  rows = across_classes(list(csv.reader(open(data)))[1:], lambda row: row[-1], 10)
  header = [name.replace('/', '_') for name in next(csv.reader(open(data)))]
  cast = lambda dtype: int if dtype.is_integer else float
  inputs = {name: tf.constant([cast(specs[name].dtype)(r[i]) for r in rows],
                              specs[name].dtype)
            for i, name in enumerate(header) if name in specs}
  outputs = raw(**inputs)
  names = [n.decode() for n in outputs['predicted_class'].numpy()]
  assert set(names) <= {'class_0', 'class_1', 'class_2'}
  truth = [r[-1] for r in rows]
  assert sorted(set(truth)) == ['class_0', 'class_1', 'class_2']  # a constant scores 1/3
  assert np.mean([a == b for a, b in zip(names, truth)]) >= 0.8


def test_diabetes_regression_is_pushed_with_a_prediction_output(diabetes):
  work, _, init_out, code, run_out, _ = diabetes
  assert code == EXIT_OK, run_out
  assert "Label 'progression' (int): regression" in init_out  # 214 distinct integers
  assert 'root_mean_squared_error' in run_out
  rmse = float(run_out.split('root_mean_squared_error ')[1].split()[0].rstrip(','))
  config = yaml.safe_load((work / 'configs' / 'diabetes.yaml').read_text())
  gate = config['gates']['metrics']['rmse']['max']
  assert rmse <= gate, (rmse, gate)
  loaded = tf.saved_model.load(str(_pushed(work, 'serving', 'diabetes')))
  # The gate (forge init's: 1.10x HistGradientBoosting's RMSE, 1% below the training mean's)
  # is what exit 0 says; the pushed model, run here on the eval rows, must beat that
  # constant clearly (R-squared 0.28 measured, so RMSE 0.85x the constant's).
  train, evaluation = _split_labels(work / 'build' / 'diabetes', 'progression')
  rows = [row for row, _ in evaluation]
  from components.common.examples import without_label
  predicted = loaded.signatures['serving_default'](examples=tf.constant(
      [without_label(row, 'progression') for row in rows]))['prediction'].numpy().reshape(-1)
  truth = np.array([label for _, label in evaluation])
  model_rmse = float(np.sqrt(np.mean((predicted - truth) ** 2)))
  constant_rmse = float(np.sqrt(np.mean((np.mean([label for _, label in train]) - truth) ** 2)))
  assert model_rmse <= 0.92 * constant_rmse, (model_rmse, constant_rmse)
  for name in ('serving_default', 'serving_raw', 'mobile'):
    assert set(loaded.signatures[name].structured_outputs) == {'prediction'}, name


def _split_labels(root: Path, label: str):
  """(train, eval): [(serialized example, label)] of the run's ExampleGen splits."""
  from components.common.examples import examples_artifact, read_examples
  from tests.tflite_probe import examples_dir
  artifact = examples_artifact(examples_dir(root))
  def labelled(split):
    rows = read_examples(artifact, split, -1)
    values = [tf.train.Example.FromString(row).features.feature[label] for row in rows]
    return [(row, float((value.float_list.value or value.int64_list.value)[0]))
            for row, value in zip(rows, values)]
  return labelled('train'), labelled('eval')


def test_diabetes_tflite_variants_are_measured_by_rmse(diabetes):
  work, _, _, code, run_out, _ = diabetes
  assert code == EXIT_OK, run_out
  header = [line for line in run_out.splitlines() if line.strip().startswith('variant')]
  assert header and 'rmse' in header[0] and 'rmse +%' in header[0]
  mobile = _pushed(work, 'mobile', 'diabetes')
  metadata = json.loads((mobile / 'metadata.json').read_text())
  assert metadata['task'] == 'regression' and 'rmse' in metadata['measured']
  assert not (mobile / 'labels.txt').exists()
  from ai_edge_litert.interpreter import Interpreter
  runner = Interpreter(model_path=str(mobile / 'model.tflite')).get_signature_runner('mobile')
  assert list(runner.get_output_details()) == ['prediction']


def test_forge_predict_without_a_server_prints_the_number(diabetes):
  work, data, *_ = diabetes
  rows = work / 'rows.csv'
  rows.write_text(''.join(open(data).readlines()[:4]))
  code, out = forge_in(work, 'predict', 'configs/diabetes.yaml', str(rows))
  assert code == EXIT_OK, out
  answers = [json.loads(line) for line in out.splitlines() if line.startswith('{')]
  assert [a['row'] for a in answers] == [1, 2, 3]
  assert all(math.isfinite(a['prediction']) and 0 < a['prediction'] < 500 for a in answers)


def test_a_worse_regressor_is_not_pushed(diabetes):
  """The same pipeline, trained for 5 steps: its RMSE rises by more than max_increase
  against the blessed model (and sits above the label's std), so nothing is pushed."""
  work, _, _, code, _, config_path = diabetes
  assert code == EXIT_OK
  before = sorted((work / 'build' / 'serving' / 'diabetes').iterdir())
  worse = work / 'configs' / 'worse.yaml'
  raw = yaml.safe_load(config_path.read_text())
  raw['training'].update({'train_steps': 10, 'learning_rate': 0.0001})
  raw['optimization']['enabled'] = False
  worse.write_text(yaml.safe_dump(raw))
  code, out = forge_in(work, 'run', str(worse))
  assert code == EXIT_NOT_BLESSED, out
  assert 'NOT blessed, nothing pushed' in out
  assert 'larger increase than' in out or 'above the maximum' in out
  assert sorted((work / 'build' / 'serving' / 'diabetes').iterdir()) == before


def test_regression_report_plots_predictions_and_residuals(diabetes):
  work, *_ = diabetes
  (page,) = sorted((work / 'build' / 'diabetes' / 'report').glob('*/index.html'))[:1]
  html = page.read_text()
  _, evaluation = _split_labels(work / 'build' / 'diabetes', 'progression')
  assert f'Predictions ({len(evaluation)} eval rows)' in html  # every eval row, plotted
  assert 'alt="predicted vs actual and residuals" src="data:image/png;base64,' in html
  assert 'rmse: at most' in html


def test_tfrecords_are_profiled_and_list_features_left_out(tmp_path):
  """TFRecords of tf.Examples (gzipped), as ImportExampleGen reads them."""
  from components.example_gen.in_process import tfrecord_examples
  from pipeline.table_profile import profile
  path = tmp_path / 'rows.tfrecord.gz'
  with tf.io.TFRecordWriter(str(path), options='GZIP') as writer:
    for index in range(60):
      writer.write(tf.train.Example(features=tf.train.Features(feature={
          'pixels': tf.train.Feature(float_list=tf.train.FloatList(value=[index, 1.0, 2.0])),
          'width': tf.train.Feature(float_list=tf.train.FloatList(value=[index * 0.5])),
          'kind': tf.train.Feature(bytes_list=tf.train.BytesList(
              value=[b'ab'[index % 2:index % 2 + 1]])),
      })).SerializeToString())
  found = profile(tfrecord_examples([str(path)]), 'kind', None, str(path))
  assert found.rows == 60 and found.task == 'classification' and found.classes == ['a', 'b']
  assert found.columns['width'].role == 'numeric'
  assert found.columns['pixels'].role == ''
  assert 'a list of up to 3 values' in found.columns['pixels'].why
