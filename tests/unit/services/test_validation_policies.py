"""PolicyService over the in-memory store: the default seeded on first use (the same as the
shipped examples/validation/default-policy.yaml), policies set from bounded-read documents
(errors name line and field), a new version only when the content changes; and the
``validation_run`` job's payload checks."""

from pathlib import Path

import pytest

from fakes import InMemoryPolicyStore
from quantdesk.adapters.sources.documents import BoundedDocumentReader
from quantdesk.domain.errors import InvalidInputError, NotFoundError
from quantdesk.domain.validation.policy import ValidationPolicy
from quantdesk.services.validation.job import validation_job
from quantdesk.services.validation.policies import SEED_ACTOR, PolicyService, policy_sha256

SHIPPED = Path(__file__).resolve().parents[3] / "examples" / "validation" / "default-policy.yaml"
READER = BoundedDocumentReader()


@pytest.fixture
def policies() -> PolicyService:
    ticks = iter(range(1, 1000))
    return PolicyService(InMemoryPolicyStore(), clock=lambda: next(ticks))


def test_the_default_is_seeded_on_first_use_as_the_shipped_file(policies: PolicyService) -> None:
    seeded = policies.current()
    assert (seeded.name, seeded.version, seeded.author) == ("default", 1, SEED_ACTOR)
    shipped = policies.store(ValidationPolicy.model_validate(_data(SHIPPED)), "ana")
    assert shipped == (seeded, False)  # the file holds exactly the seeded content
    assert policies.current("default") == seeded == policies.get("default", 1)
    assert policies.names() == ["default"]


def test_a_document_sets_a_new_version_only_when_its_content_changes(
    policies: PolicyService, tmp_path: Path
) -> None:
    path = tmp_path / "default.yaml"
    path.write_text("name: default\nthresholds:\n  min_oos_sharpe: 1.0\n")
    stored, created = policies.set_document(READER.read_file(path), "ana")
    assert (stored.version, created, stored.author) == (2, True, "ana")  # 1: the seed
    assert stored.sha256 == policy_sha256(stored.policy)
    again = policies.set(READER.read_file(path), "bob")
    assert again == stored
    assert [p.version for p in policies.history("default")] == [1, 2]
    assert policies.get("default", 1).policy.thresholds.min_oos_sharpe == 0.5


def test_a_refused_field_is_named_with_its_line(policies: PolicyService, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: strict\nmonte_carlo:\n  samples: 10\n")
    with pytest.raises(InvalidInputError) as refused:
        policies.set(READER.read_file(path), "ana")
    assert (refused.value.code, refused.value.data) == (
        "invalid_policy",
        {"line": 3, "field": "monte_carlo.samples"},
    )
    assert "bad.yaml line 3: monte_carlo.samples" in refused.value.message
    path.write_text("- not a mapping\n")
    with pytest.raises(InvalidInputError, match="line 1: expected a mapping"):
        policies.set(READER.read_file(path), "ana")
    with pytest.raises(NotFoundError):
        policies.current("strict")  # nothing was stored


def test_unknown_policies_and_versions_are_not_found(policies: PolicyService) -> None:
    for call in (
        lambda: policies.current("nope"),
        lambda: policies.history("nope"),
        lambda: policies.get("default", 7),
    ):
        with pytest.raises(NotFoundError) as missing:
            call()
        assert missing.value.code == "policy_not_found"


@pytest.mark.parametrize(
    "payload",
    [
        {"actor": "ana"},  # no ref
        {"ref": "trend-a@1"},  # no actor
        {"ref": "trend-a@1", "actor": "ana", "workers": 0},
        {"ref": "trend-a@1", "actor": "ana", "workers": True},
        {"ref": "trend-a@1", "actor": "ana", "start_ns": -1},
        {"ref": "trend-a@1", "actor": "ana", "policy": 3},
    ],
)
def test_the_job_refuses_a_payload_it_cannot_trust(payload: dict[str, object]) -> None:
    class NoDesk:  # the payload is refused before the desk is touched
        @property
        def research(self) -> object:
            return type("R", (), {"validation": object()})()

    with pytest.raises(InvalidInputError) as refused:
        validation_job(NoDesk(), payload, None)  # type: ignore[arg-type]
    assert refused.value.code == "job_payload"


def _data(path: Path) -> object:
    return READER.read_file(path).data
