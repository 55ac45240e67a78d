"""LeakageCheck: stops the run when the label cannot be learned from the training split, or
when eval rows repeat training rows beyond what a random split of the data gives (see
executor.py)."""
import json

from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types import artifact
from tfx.types.standard_artifacts import Examples

from components.leakage_check import executor


class LeakageReport(artifact.Artifact):
  """`leakage.json` (executor.SplitOverlap): rows per split, the eval rows found in training
  against a random split's expectation, and the data's repetition and noise floor."""
  TYPE_NAME = 'forge.LeakageReport'  # KFP v2 wants <namespace>.<Name>


@component
def LeakageCheck(  # pylint: disable=invalid-name
    examples: InputArtifact[Examples],
    leakage: OutputArtifact[LeakageReport],
    label_key: Parameter[str],
    max_fraction: Parameter[float],
    data_location: Parameter[str],
    code_fingerprint: Parameter[str],
    feature_keys: Parameter[str] = '[]',
    group_key: Parameter[str] = '',
    classes: Parameter[str] = '[]',
):
  """Raises DataValidationError, stopping the run: a classification whose training split
  lacks one of `classes` (JSON list; [] for a regression) or holds fewer than two; eval rows
  in training beyond a random split's share by more than `max_fraction`; a `group_key`
  value (data.split_by) in both splits. `feature_keys` (JSON list; [] for every column but
  the label) are what a row is compared by. `code_fingerprint` (common/fingerprint.py)
  keys the cache by this component's source."""
  del code_fingerprint  # only a cache key
  executor.check(examples, label_key, max_fraction, data_location, leakage.uri,
                 feature_keys=json.loads(feature_keys), group_key=group_key or None,
                 classes=json.loads(classes))
