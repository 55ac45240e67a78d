"""A labelled review corpus the text tests make: the IMDB sample's columns (`label` 0/1,
`text`) and its kinds of text (HTML line breaks, capitals, apostrophes, accents), with a
sentiment that lives in words shared across reviews.

Why not the IMDB sample itself: its 100 reviews leave 33 for eval, where the AUC of one
model moves by about 0.1 with the rows drawn (the Transformer scored 0.52 on one random
split and 0.78 on another, same seed): a test of "learns more than a constant" on it
measures the split. Here each review carries its label in a few of 16 sentiment words
among neutral sentences, so a model that learns the words generalizes to unseen reviews
(a constant scores 0.5), on any split.
"""
from __future__ import annotations

import csv
import random
from pathlib import Path

POSITIVE = ('wonderful', 'brilliant', 'moving', 'superb', 'delightful', 'gripping',
            'charming', 'excellent')
NEGATIVE = ('dull', 'awful', 'tedious', 'clumsy', 'boring', 'dreadful', 'lifeless', 'weak')
_JUDGED = ('The acting was {}.', 'I found the plot {}.', 'What a {} film!',
           'The ending felt {}, honestly.', "The director's work is {}.",
           'Its score was {} from start to finish.')
_NEUTRAL = ('We saw it at the café on a Sunday.', 'It runs about two hours.',
            'My brother picked it.', "I hadn't read the book.", 'The cinema was half full.',
            'It came out last year.', 'There is a dog in it.', 'The sequel is out in June.')


def _sentence(rng: random.Random, word: str) -> str:
  if rng.random() < 0.15:
    word = word.upper()
  elif rng.random() < 0.15:
    word = word.capitalize()
  return rng.choice(_JUDGED).format(word)


def review(rng: random.Random, positive: bool) -> str:
  """Two to four sentences in the label's words (one in five reviews also has a word of the
  other side), among neutral ones; some joined by <br /> as IMDB's are."""
  own, other = (POSITIVE, NEGATIVE) if positive else (NEGATIVE, POSITIVE)
  sentences = [_sentence(rng, rng.choice(own)) for _ in range(rng.randint(2, 4))]
  if rng.random() < 0.2:
    sentences.append(_sentence(rng, rng.choice(other)))
  sentences += rng.sample(_NEUTRAL, rng.randint(1, 3))
  rng.shuffle(sentences)
  return ''.join(sentence + rng.choice((' ', ' ', '<br /><br />')) for sentence in sentences)


def write_reviews(path: Path, rows: int = 300, seed: int = 0) -> Path:
  rng = random.Random(seed)
  path.parent.mkdir(parents=True, exist_ok=True)
  with open(path, 'w', newline='', encoding='utf-8') as out:
    writer = csv.writer(out)
    writer.writerow(['label', 'text'])
    for _ in range(rows):
      positive = rng.random() < 0.5
      writer.writerow([int(positive), review(rng, positive).strip()])
  return path
