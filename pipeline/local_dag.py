"""TFX's LocalDagRunner with listeners told when each component starts and finishes.

TFX's local runner has no hook between components: it only logs "Component X is running."
This runner is its loop (tfx/orchestration/local/local_dag_runner.py, TFX 1.16) with
`started(node_id)` and `finished(node_id, seconds, cached)` calls to each listener around
each launch, so progress lines and freeing memory between components follow the run itself,
not TFX's log wording. Partial runs (run_options) are not used here and are refused.
"""
from __future__ import annotations

import datetime
import time
from typing import Optional, Protocol, Sequence

from ml_metadata.proto import metadata_store_pb2
from tfx.dsl.compiler import constants
from tfx.orchestration import metadata
from tfx.orchestration.local import runner_utils
from tfx.orchestration.local.local_dag_runner import LocalDagRunner
from tfx.orchestration.portable import launcher, runtime_parameter_utils
from tfx.proto.orchestration import pipeline_pb2


class ComponentListener(Protocol):

  def started(self, node_id: str) -> None:
    ...

  def finished(self, node_id: str, seconds: float, cached: bool) -> None:
    ...


class ListenedLocalDagRunner(LocalDagRunner):

  def __init__(self, listeners: Sequence[ComponentListener]):
    super().__init__()
    self._listeners = list(listeners)

  def run_with_ir(self, pipeline: pipeline_pb2.Pipeline,
                  run_options: Optional[pipeline_pb2.RunOptions] = None) -> None:
    if run_options:
      raise ValueError('ListenedLocalDagRunner runs whole pipelines (no run_options)')
    runtime_parameter_utils.substitute_runtime_parameter(
        pipeline, {constants.PIPELINE_RUN_ID_PARAMETER_NAME: datetime.datetime.now().isoformat()})
    deployment_config = runner_utils.extract_local_deployment_config(pipeline)
    connection_config = getattr(
        deployment_config.metadata_connection_config,
        deployment_config.metadata_connection_config.WhichOneof('connection_config'))
    for node in pipeline.nodes:  # in topological order
      pipeline_node = node.pipeline_node
      node_id = pipeline_node.node_info.id
      if pipeline_node.execution_options.HasField('skip'):
        continue
      component_launcher = launcher.Launcher(
          pipeline_node=pipeline_node,
          mlmd_connection=metadata.Metadata(connection_config),
          pipeline_info=pipeline.pipeline_info,
          pipeline_runtime_spec=pipeline.runtime_spec,
          executor_spec=runner_utils.extract_executor_spec(deployment_config, node_id),
          custom_driver_spec=runner_utils.extract_custom_driver_spec(deployment_config,
                                                                     node_id))
      for listener in self._listeners:
        listener.started(node_id)
      started = time.monotonic()
      execution = component_launcher.launch()
      seconds, cached = time.monotonic() - started, _was_cached(connection_config, execution)
      for listener in self._listeners:
        listener.finished(node_id, seconds, cached)


def _was_cached(connection_config, execution_info) -> bool:
  """Whether the launcher reused an earlier execution (ML Metadata's CACHED state)."""
  if execution_info is None or not execution_info.execution_id:
    return False
  with metadata.Metadata(connection_config) as store:
    [execution] = store.store.get_executions_by_id([execution_info.execution_id])
  return execution.last_known_state == metadata_store_pb2.Execution.CACHED
