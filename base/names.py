"""Names that become directory names (pipeline root, serving and mobile dirs) and ML Metadata
contexts. No imports: the config module and the executors both use it."""
import re

SAFE_NAME = re.compile(r'^[A-Za-z][A-Za-z0-9_-]{0,62}$')
# A DNS-1123 label: a Kubernetes namespace name.
K8S_NAME = re.compile(r'^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$')

# A column name becomes a signature input, a TFLite tensor and a TFMA feature name;
# TensorFlow renames other characters in signature inputs ("/" starts a name scope).
SAFE_COLUMN = re.compile(r'^[A-Za-z][A-Za-z0-9_]*$')


def safe_column(name: str) -> str:
  """The name ExampleGen gives a CSV column: unchanged when safe, else its runs of other
  characters as "_" (a leading digit gets "c_"): 'od280/od315' -> 'od280_od315'."""
  if SAFE_COLUMN.match(name):
    return name
  spelled = re.sub(r'[^A-Za-z0-9_]+', '_', name.strip()).strip('_') or 'column'
  return spelled if spelled[0].isalpha() else f'c_{spelled}'
