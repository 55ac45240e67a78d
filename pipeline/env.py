"""Process settings that must be in place before TensorFlow is first imported.

Import this module first in every entry point (CLI, tests, benchmarks, Beam workers
started by them inherit the environment).
"""
import os
import warnings

# tensorflow-model-optimization needs Keras 2 (tf_keras), not Keras 3.
os.environ['TF_USE_LEGACY_KERAS'] = '1'
# TensorFlow's C++ start-up messages; `forge run --verbose` shows them again.
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
os.environ.setdefault('GRPC_VERBOSITY', 'ERROR')
# Google client libraries warn about Python 3.10 on every import.
warnings.filterwarnings('ignore', category=FutureWarning)
# tensorflow-hub's import of pkg_resources (setuptools pinned below 81 for it).
warnings.filterwarnings('ignore', message='pkg_resources is deprecated', category=UserWarning)
