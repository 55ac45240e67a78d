"""LeakageCheck: stops the run when eval rows repeat training rows (see executor.py)."""
from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types import artifact
from tfx.types.standard_artifacts import Examples

from components.leakage_check import executor


class LeakageReport(artifact.Artifact):
  """`leakage.json`: train and eval row counts and how many eval rows are in train."""
  TYPE_NAME = 'forge.LeakageReport'  # KFP v2 wants <namespace>.<Name>


@component
def LeakageCheck(  # pylint: disable=invalid-name
    examples: InputArtifact[Examples],
    leakage: OutputArtifact[LeakageReport],
    label_key: Parameter[str],
    max_fraction: Parameter[float],
    data_location: Parameter[str],
    code_fingerprint: Parameter[str],
):
  """Raises LeakageError, stopping the run, above `max_fraction` of eval rows.
  `code_fingerprint` (common/fingerprint.py) keys the cache by this component's source."""
  del code_fingerprint  # only a cache key
  executor.check(examples, label_key, max_fraction, data_location, leakage.uri)
