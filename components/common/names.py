"""Names that become directory names (pipeline root, serving and mobile dirs) and ML Metadata
contexts. No imports: the config module and the executors both use it."""
import re

SAFE_NAME = re.compile(r'^[A-Za-z][A-Za-z0-9_-]{0,62}$')
