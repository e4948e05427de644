"""The shipped policy file is the default policy: same values, same content hash."""

from pathlib import Path

import yaml

from quantdesk.domain.validation.policy import DEFAULT_POLICY_NAME, ValidationPolicy
from quantdesk.services.validation.policies import policy_sha256

FILE = Path(__file__).resolve().parents[3] / "examples" / "validation" / "default-policy.yaml"


def test_the_shipped_file_holds_the_default_policy() -> None:
    shipped = ValidationPolicy.model_validate(yaml.safe_load(FILE.read_text()))
    default = ValidationPolicy(name=DEFAULT_POLICY_NAME)
    assert shipped == default
    assert policy_sha256(shipped) == policy_sha256(default)
    # every field is spelled out in the file (a reader sees what they would change)
    written = yaml.safe_load(FILE.read_text())
    assert set(written) == set(ValidationPolicy.model_fields)
    assert set(written["thresholds"]) == set(default.thresholds.model_dump())
