"""The variants table of an optimization report, as text for the console and benchmarks."""
from __future__ import annotations

from typing import Any, Dict, List

COLUMNS = ('variant', 'KB', 'gzip KB', 'accuracy', 'drop pts', 'p50 ms', 'p90 ms',
           'max |diff|', 'eligible')
REGRESSION_COLUMNS = ('variant', 'KB', 'gzip KB', 'rmse', 'rmse +%', 'p50 ms', 'p90 ms',
                      'max |diff|', 'eligible')


def quality_metric(report: Dict[str, Any]) -> str:
  """The figure variants are judged by: accuracy, or a regression's rmse."""
  return 'rmse' if 'rmse' in report['savedmodel'] else 'accuracy'


def _change(row: Dict[str, Any]) -> str:
  if 'rmse_increase' in row:
    return f'{row["rmse_increase"] * 100:+.2f}'
  return f'{row["accuracy_drop_points"]:+.2f}'


TASK_LIBRARY_COLUMN = 'Task Library'  # its top-1 agreement with the interpreter


def rows(report: Dict[str, Any]) -> List[tuple]:
  """The header, the float SavedModel, then one row per variant, as strings."""
  metric = quality_metric(report)
  task_library = any('task_library_top1_vs_litert' in row for row in report['variants'].values())
  header = REGRESSION_COLUMNS if metric == 'rmse' else COLUMNS
  rows = [header[:-1] + ((TASK_LIBRARY_COLUMN,) if task_library else ()) + header[-1:]]
  reference = report['savedmodel']
  rows.append(('SavedModel (float)', '', '', f'{reference[metric]:.4f}', '', '', '', '',
               *([''] if task_library else []), ''))
  for name, row in report['variants'].items():
    agreement = ([f'{row.get("task_library_top1_vs_litert", 0):.1%}'] if task_library else [])
    rows.append((name, f'{row["size_bytes"] / 1024:.1f}', f'{row["gzip_bytes"] / 1024:.1f}',
                 f'{row[metric]:.4f}', _change(row),
                 f'{row["latency_ms_p50"]:.3f}', f'{row["latency_ms_p90"]:.3f}',
                 f'{row["max_abs_diff_vs_source"]:.4f}', *agreement,
                 'yes' if row['eligible'] else 'no'))
  return rows


def notes(report: Dict[str, Any]) -> List[str]:
  """What the table does not show: missed budgets, variants not built, sparsity."""
  text = []
  for name, row in report['variants'].items():
    text.extend(f'{name} missed: {reason}' for reason in row['missed'])
  text.extend(f'{name} not built: {reason}' for name, reason in report['not_built'].items())
  if report.get('sparsity'):
    text.append('pruned kernel sparsity: ' + ', '.join(
        f'{layer} {value:.1%}' for layer, value in report['sparsity'].items()))
  return text


def lines(report: Dict[str, Any]) -> List[str]:
  table = rows(report)
  widths = [max(len(str(row[i])) for row in table) for i in range(len(table[0]))]
  return ['  '.join(str(cell).rjust(width) if i else str(cell).ljust(width)
                    for i, (cell, width) in enumerate(zip(row, widths))) for row in table
          ] + notes(report)
