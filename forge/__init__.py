"""The import path of this project's custom artifact types, as their TYPE_NAMEs spell it.

A KFP v2 spec records a custom artifact type only by its schema title, the type's TYPE_NAME
(`forge.LeakageReport`); TFX's container entry point imports that title as a class path
(kubeflow_v2_entrypoint_utils._retrieve_class_path, then import_utils.import_class_by_path:
`forge` is the module, `LeakageReport` the class). TFX's title rule allows one lowercase
module name before the class (compiler_utils._SCHEMA_TITLE_RE), so the classes, defined
beside the components that write them, are re-exported here.

Each class is imported when asked for (PEP 562): a step that reads a LeakageReport does not
import the Distiller's TensorFlow Model Optimization.
"""
import importlib

# TYPE_NAME's class -> the module that defines it.
_DEFINED_IN = {
    'LeakageReport': 'components.leakage_check.component',
    'DistillationReport': 'components.distiller.component',
    'TFLiteModels': 'components.common.artifacts',
    'OptimizationReport': 'components.common.artifacts',
    'PushedMobileModel': 'components.common.artifacts',
    'ModelCard': 'components.common.artifacts',
}

__all__ = sorted(_DEFINED_IN)


def __getattr__(name: str):
  if name not in _DEFINED_IN:
    raise AttributeError(f'module {__name__!r} has no artifact type {name!r}: add it to '
                         f'{__file__}\'s _DEFINED_IN')
  return getattr(importlib.import_module(_DEFINED_IN[name]), name)
