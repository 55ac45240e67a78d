"""Errors a component raises to stop the run because of the data, not a fault of the code:
the CLI exits with its data exit code (3) and prints the message alone."""


class DataValidationError(RuntimeError):
  """The data cannot be trained on; the message names the file, split or feature at fault
  and what to change."""
