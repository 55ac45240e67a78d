"""Text classification on a real labelled corpus: the Transformer (teacher), its distilled
student and the student converted to int8 TFLite, each with eval accuracy, F1 and size.

    .venv/bin/python benchmarks/text.py --data ../shared/data/sms_spam/SMSSpamCollection

The corpus is the SMS Spam Collection's format (`label<TAB>text`, labels ham/spam; a header
line is skipped) or a CSV with `text` and `label` (0/1) columns. It runs `forge run` with
configs/text.yaml (distillation on), then measures the models from ML Metadata on the eval
split. Targets: Transformer accuracy >= 0.97; student within 1 point of it.
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from base import env  # noqa: E402,F401  (before TensorFlow)

import numpy as np  # noqa: E402
import yaml  # noqa: E402

from benchmarks.common import PROJECT_DIR, directory_kb, run_measured  # noqa: E402

POSITIVE = {'spam', '1', 'positive'}


def write_csv(source: Path, target: Path, limit: int | None) -> int:
  """The corpus as text,label (1 = spam/positive); returns the row count."""
  with open(source, encoding='utf-8', newline='') as f:
    first = f.readline()
    f.seek(0)
    if '\t' in first:
      rows = [line.rstrip('\n').split('\t', 1) for line in f if '\t' in line]
      rows = [(text, label) for label, text in rows if label.lower() in ('ham', 'spam')]
    else:
      rows = [(row['text'], row['label']) for row in csv.DictReader(f)]
  rows = rows[:limit] if limit else rows
  with open(target, 'w', encoding='utf-8', newline='') as out:
    writer = csv.writer(out)
    writer.writerow(['text', 'label'])
    writer.writerows((text, int(str(label).lower() in POSITIVE)) for text, label in rows)
  return len(rows)


def f1(labels: np.ndarray, predicted: np.ndarray) -> float:
  true_positive = float(np.sum((predicted == 1) & (labels == 1)))
  return 2 * true_positive / max(float(np.sum(predicted == 1) + np.sum(labels == 1)), 1.0)


def scores(labels: np.ndarray, probabilities: np.ndarray) -> dict:
  predicted = (probabilities.reshape(-1) >= 0.5).astype(int)
  return {'accuracy': float(np.mean(predicted == labels)), 'f1': f1(labels, predicted)}


def int8_tflite(student, train_ids: np.ndarray) -> bytes:
  """The student with int8 weights and activations (calibrated on training texts), float
  where an op has no int8 kernel."""
  import tensorflow as tf
  converter = tf.lite.TFLiteConverter.from_keras_model(student)
  converter.optimizations = [tf.lite.Optimize.DEFAULT]
  converter.representative_dataset = lambda: ([row[None]] for row in train_ids[:200])
  return converter.convert()


def tflite_probabilities(model: bytes, ids: np.ndarray) -> np.ndarray:
  from ai_edge_litert.interpreter import Interpreter
  interpreter = Interpreter(model_content=model)
  runner = interpreter.get_signature_runner()
  (name,) = runner.get_input_details()
  dtype = runner.get_input_details()[name]['dtype']
  return np.concatenate([next(iter(runner(**{name: row[None].astype(dtype)}).values()))
                         for row in ids]).reshape(-1)


def measure(root: Path, batch_size: int) -> list:
  import tensorflow as tf
  import tensorflow_transform as tft
  from tfx.utils import path_utils
  import models.text.model  # noqa: F401  (registers the Transformer layers)
  from models.common import training
  from models.common.family import load_family, transformed_name
  from pipeline.summary import read_latest_run
  outputs = read_latest_run(root / 'metadata.sqlite').outputs
  family = load_family('text')
  tft_output = tft.TFTransformOutput(outputs['Transform']['transform_graph'][0])
  examples = outputs['Transform']['transformed_examples'][0]
  key = transformed_name('text')

  def split(name):
    batches = list(training.transformed_split(examples, name, tft_output, family, batch_size,
                                              repeat=False))
    return (np.concatenate([features[key].numpy() for features, _ in batches]),
            np.concatenate([labels.numpy().reshape(-1) for _, labels in batches]))

  eval_ids, labels = split('eval')
  rows = []
  for role, node, output in (('Transformer (teacher)', 'Trainer', 'model'),
                             ('distilled student', 'Distiller', 'student_model')):
    path = path_utils.serving_model_path(outputs[node][output][0])
    model = tf.keras.models.load_model(path)
    probabilities = model.predict({key: eval_ids}, verbose=0)
    rows.append((role, model.count_params(), directory_kb(Path(path)),
                 scores(labels, probabilities)))
  tflite = int8_tflite(model, split('train')[0])
  rows.append(('int8 student (TFLite)', rows[-1][1], len(tflite) / 1024,
               scores(labels, tflite_probabilities(tflite, eval_ids))))
  return rows, len(labels)


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--data', type=Path,
                      default=PROJECT_DIR.parent / 'shared' / 'data' / 'sms_spam' /
                      'SMSSpamCollection')
  parser.add_argument('--limit', type=int, help='use only the first N texts (smoke runs)')
  parser.add_argument('--train-steps', type=int, default=1000)
  parser.add_argument('--distill-steps', type=int, default=1000)
  parser.add_argument('--work-dir', type=Path, help='default: a temporary directory')
  parser.add_argument('--measure-root', type=Path,
                      help='skip the run: measure the text pipeline root of an earlier one')
  args = parser.parse_args()
  if args.measure_root:
    return report(args.measure_root)
  work = args.work_dir or Path(tempfile.mkdtemp(prefix='forge-text-'))
  work.mkdir(parents=True, exist_ok=True)
  count = write_csv(args.data, work / 'corpus.csv', args.limit)
  config = yaml.safe_load((PROJECT_DIR / 'configs' / 'text.yaml').read_text())
  config['pipeline']['root'] = str(work / 'root')
  config['data'] = {'path': str(work / 'corpus.csv')}
  config['outputs'] = {'serving_dir': str(work / 'serving')}
  config['training'].update(epochs=5, train_steps=args.train_steps, eval_steps=20,
                            batch_size=32)
  config['distillation'] = {'enabled': True, 'steps': args.distill_steps,
                            'student_hparams': {'embed_dim': 16, 'ff_dim': 32}}
  config['optimization'] = {'enabled': True, 'variants': ['float32']}
  (work / 'text.yaml').write_text(yaml.safe_dump(config))
  print(f'{count} texts from {args.data}; work dir {work}')
  run = run_measured([sys.executable, '-m', 'pipeline.cli', 'run', str(work / 'text.yaml')])
  print(f'forge run: exit {run.returncode} in {run.seconds:.0f} s, peak process '
        f'{run.peak_process_mb:.0f} MB')
  if run.returncode not in (0, 4, 6):  # blessed or not, the models exist
    print(run.output[-3000:])
    return 1
  return report(work / 'root')


def report(root: Path) -> int:
  rows, eval_count = measure(root, 64)
  print(f'\neval split: {eval_count} texts')
  print(f'{"model":24} {"parameters":>10} {"size KB":>9} {"accuracy":>9} {"F1":>7}')
  for role, parameters, size, figures in rows:
    print(f'{role:24} {parameters:>10,} {size:>9.1f} {figures["accuracy"]:>9.4f} '
          f'{figures["f1"]:>7.4f}')
  teacher, student = rows[0][3]['accuracy'], rows[1][3]['accuracy']
  print(f'\ntarget: Transformer accuracy >= 0.97: {teacher:.4f} '
        f'({"met" if teacher >= 0.97 else "missed"})')
  print(f'target: student within 1 point: {(teacher - student) * 100:+.2f} points '
        f'({"met" if teacher - student <= 0.01 else "missed"})')
  return 0


if __name__ == '__main__':
  sys.exit(main())
