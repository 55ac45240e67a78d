"""`python -m pipeline.cli ...` is `forge ...`."""
from pipeline.cli import entry

entry()
