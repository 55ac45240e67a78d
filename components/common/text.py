"""Values quoted in messages and pages, cut to a readable length: a data cell can hold
megabytes (a pasted document in a category column), and a gate's message or the report that
quotes it whole floods the terminal and takes minutes to write."""
from __future__ import annotations

import re

VALUE_LIMIT = 80
# A run of characters without a space or a comma: one quoted value inside a longer text.
_LONG_RUN = re.compile(r'[^\s,]{%d,}' % (VALUE_LIMIT + 1))


def clip(value: object, limit: int = VALUE_LIMIT) -> str:
  """The value as text, cut to `limit` characters with its full length said."""
  text = value.decode('utf-8', 'replace') if isinstance(value, bytes) else str(value)
  if len(text) <= limit:
    return text
  return f'{text[:limit]}... ({len(text):,} characters)'


def clip_quoted(text: str, limit: int = 4 * VALUE_LIMIT) -> str:
  """A message written by a library (TFDV's anomaly descriptions) that may quote values:
  each long unbroken run is cut, then the whole."""
  return clip(_LONG_RUN.sub(lambda match: clip(match.group()), text), limit)
