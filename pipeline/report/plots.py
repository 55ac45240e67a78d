"""Small PNG plots for the run report, embedded as data: URIs so the page needs no network
and no files beside it."""
from __future__ import annotations

import base64
import io
from typing import Dict, List, Sequence, Tuple

import matplotlib

matplotlib.use('Agg')
from matplotlib import pyplot  # noqa: E402  (after choosing the backend)

_STYLE = {'font.size': 8, 'axes.spines.top': False, 'axes.spines.right': False}


def _img(figure, alt: str) -> str:
  buffer = io.BytesIO()
  figure.savefig(buffer, format='png', dpi=100, bbox_inches='tight',
                 metadata={'Software': None})
  pyplot.close(figure)
  data = base64.b64encode(buffer.getvalue()).decode('ascii')
  return f'<img alt="{alt}" src="data:image/png;base64,{data}">'


def histogram(labels: Sequence[str], counts: Sequence[float], alt: str) -> str:
  """A sparkline-sized bar chart: bucket counts of a number, or top values of a string."""
  with pyplot.rc_context(_STYLE):
    figure, axes = pyplot.subplots(figsize=(1.9, 0.6))
    axes.bar(range(len(counts)), counts, width=0.9, color='#4c72b0')
    axes.set_xticks([])
    axes.set_yticks([])
    axes.spines['left'].set_visible(False)
    if labels:
      axes.set_xlabel(f'{labels[0]} … {labels[-1]}' if len(labels) > 1 else labels[0],
                      fontsize=6)
    return _img(figure, alt)


def curves(epochs: Dict[str, List[float]], alt: str) -> str:
  """Loss and each metric per epoch, training and eval (val_) on the same axes."""
  names = [name for name in epochs if not name.startswith('val_')]
  with pyplot.rc_context(_STYLE):
    figure, axes_row = pyplot.subplots(1, len(names), figsize=(3.2 * len(names), 2.2),
                                       squeeze=False)
    for axes, name in zip(axes_row[0], names):
      x = range(1, len(epochs[name]) + 1)
      axes.plot(x, epochs[name], marker='o', markersize=3, label='train')
      if f'val_{name}' in epochs:
        axes.plot(x, epochs[f'val_{name}'], marker='o', markersize=3, label='eval')
      axes.set_title(name)
      axes.set_xlabel('epoch')
      axes.legend()
    return _img(figure, alt)


def size_vs_accuracy(points: Dict[str, Tuple[float, float]], reference_accuracy: float,
                     alt: str, metric: str = 'accuracy') -> str:
  """Each TFLite variant at (gzipped KB, accuracy, or a regression's rmse); the dashed line
  is the SavedModel's."""
  with pyplot.rc_context(_STYLE):
    figure, axes = pyplot.subplots(figsize=(5, 3))
    for name, (size_kb, accuracy) in points.items():
      axes.scatter([size_kb], [accuracy])
      axes.annotate(name, (size_kb, accuracy), textcoords='offset points', xytext=(4, 4))
    axes.axhline(reference_accuracy, linestyle='--', color='grey', label='SavedModel (float)')
    axes.set_xlabel('gzipped size, KB')
    axes.set_ylabel(f'eval {metric}')
    axes.legend()
    return _img(figure, alt)


def predicted_vs_actual(labels: Sequence[float], predictions: Sequence[float],
                        alt: str) -> str:
  """A regression on the eval rows: each row at (actual, predicted) beside the diagonal,
  and the residuals (predicted - actual) as a histogram."""
  residuals = [p - a for a, p in zip(labels, predictions)]
  with pyplot.rc_context(_STYLE):
    figure, (scatter, spread) = pyplot.subplots(1, 2, figsize=(6.4, 2.6))
    scatter.scatter(labels, predictions, s=6, alpha=0.6)
    low, high = min(min(labels), min(predictions)), max(max(labels), max(predictions))
    scatter.plot([low, high], [low, high], linestyle='--', color='grey')
    scatter.set_xlabel('actual')
    scatter.set_ylabel('predicted')
    scatter.set_title('predicted vs actual (eval rows)')
    spread.hist(residuals, bins=30, color='#4c72b0')
    spread.axvline(0, linestyle='--', color='grey')
    spread.set_xlabel('residual (predicted - actual)')
    spread.set_title('residuals')
    return _img(figure, alt)
