"""The promotion gate's decision over random histories of validations and overrides."""

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakes import InMemoryValidationRecordStore
from quantdesk.domain.errors import PromotionRefusedError
from quantdesk.domain.validation.report import PromotionOverride
from quantdesk.services.registry import StrategyRegistry
from quantdesk.services.validation.promotion import PromotionGate
from support.registry import registry_on, sqlite_database, trend
from support.validation_records import record

OTHER_CONTENT = "9" * 64
# (kind, version, passed, own content): a validation record or an override
Event = tuple[str, int, bool, bool]
events = st.lists(
    st.tuples(
        st.sampled_from(["record", "override"]),
        st.integers(1, 3),
        st.booleans(),
        st.booleans(),
    ),
    max_size=12,
)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> StrategyRegistry:
    folder: Path = tmp_path_factory.mktemp("gate")
    registry, _, _ = registry_on(sqlite_database(folder))
    for fast in (10, 11, 12):
        registry.register(trend(fast_period=fast), "ana")
    return registry


# Property: a version may trade iff a passing record or an override of exactly its content
# exists; a refusal's reason names the newest record of its content, else other content.
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(history=events)
def test_tradable_exactly_on_evidence_of_this_content(
    registry: StrategyRegistry, history: list[Event]
) -> None:
    records = InMemoryValidationRecordStore()
    gate = PromotionGate(records, registry, reports=None)  # type: ignore[arg-type]
    hashes = {v: registry.get("trend-a", v).content_hash for v in (1, 2, 3)}
    for at, (kind, version, passed, own) in enumerate(history, start=1):
        content = hashes[version] if own else OTHER_CONTENT
        if kind == "record":
            records.add(
                record(
                    f"v{at}",
                    version=version,
                    content_hash=content,
                    passed=passed,
                    failed_checks=[] if passed else ["pbo"],
                    finished_at_ns=at,
                ),
                at_ns=at,
            )
        else:
            records.add_override(
                PromotionOverride(
                    strategy_id="trend-a",
                    version=version,
                    content_hash=content,
                    actor="root",
                    reason="r",
                    at_ns=at,
                )
            )
    for version in (1, 2, 3):
        mine = [e for e in history if e[1] == version and e[3]]
        expected = any(kind == "override" or passed for kind, _, passed, _ in mine)
        assert gate.status("trend-a", version).tradable is expected
        if expected:
            gate.require_tradable("trend-a", version)
            continue
        with pytest.raises(PromotionRefusedError) as refused:
            gate.require_tradable("trend-a", version)
        if any(kind == "record" for kind, *_ in mine):
            reason = "last validation failed"
        elif any(e[0] == "record" and e[1] == version for e in history):
            reason = "validated content differs"
        else:
            reason = "no validation"
        assert refused.value.data["reason"] == reason
