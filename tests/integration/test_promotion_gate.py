"""The promotion gate on a real registry (SQLite and PostgreSQL): a version trades only on a
passing validation record of exactly its content, or an admin's override with a reason; the
``validated`` tag is the gate's alone; every decision is on the registry's audit chain."""

from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import pytest

from quantdesk.adapters.storage.validation_records import SqlValidationRecordStore
from quantdesk.adapters.storage.validation_reports import FileValidationReports
from quantdesk.domain.errors import InvalidInputError, PromotionRefusedError
from quantdesk.domain.validation.report import ValidationReport
from quantdesk.services.registry import StrategyRegistry
from quantdesk.services.validation.promotion import PromotionGate, fingerprints_sha256
from support.registry import postgres_database, registry_on, sqlite_database, trend
from support.validation_records import record, report


def _render(report: ValidationReport, out: TextIO) -> None:
    out.write("<html></html>")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def desk(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[StrategyRegistry, PromotionGate, SqlValidationRecordStore]]:
    def build(url: str) -> tuple[StrategyRegistry, PromotionGate, SqlValidationRecordStore]:
        registry, _, database = registry_on(url)
        records = SqlValidationRecordStore(database)
        reports = FileValidationReports(tmp_path / "validations", _render)
        gate = PromotionGate(records, registry, reports)
        registry.guard_tags(gate.check_tag)
        return registry, gate, records

    if request.param == "sqlite":
        yield build(sqlite_database(tmp_path))
        return
    with postgres_database() as url:
        yield build(url)


Desk = tuple[StrategyRegistry, PromotionGate, SqlValidationRecordStore]


def _report_of(registry: StrategyRegistry, ref: str, vid: str, *failed: str) -> ValidationReport:
    stored = registry.resolve(ref)
    return report(
        vid,
        strategy_id=stored.strategy_id,
        version=stored.version,
        content_hash=stored.content_hash,
        failed=failed,
    )


def test_a_version_never_validated_cannot_be_tagged_live(desk: Desk) -> None:
    registry, gate, _ = desk
    registry.register(trend(), "ana")
    with pytest.raises(PromotionRefusedError) as refused:
        registry.tag("trend-a", 1, "live", "ana")
    assert refused.value.code == "not_validated"
    assert refused.value.data["ref"] == "trend-a@1"
    assert refused.value.data["reason"] == "no validation"
    assert registry.get("trend-a", 1).tags == ()
    assert not gate.status("trend-a", 1).tradable


def test_a_failing_validation_is_recorded_and_keeps_the_version_off_live(desk: Desk) -> None:
    registry, gate, _ = desk
    registry.register(trend(), "ana")
    failed = gate.record(_report_of(registry, "trend-a@1", "v1", "pbo", "oos_sharpe"), "/r/v1")
    assert (failed.passed, failed.failed_checks) == (False, ["oos_sharpe", "pbo"])
    assert registry.get("trend-a", 1).tags == ()
    with pytest.raises(PromotionRefusedError) as refused:
        registry.tag("trend-a", 1, "live", "ana")
    assert refused.value.data["reason"] == "last validation failed"
    assert refused.value.data["failed_checks"] == "oos_sharpe, pbo"
    assert refused.value.data["validation_id"] == "v1"
    assert "last validation failed: oos_sharpe, pbo" in refused.value.message


def test_a_passing_validation_tags_validated_and_lets_the_version_go_live(desk: Desk) -> None:
    registry, gate, _ = desk
    registry.register(trend(), "ana")
    passed_report = _report_of(registry, "trend-a@1", "v1")
    stored = gate.record(passed_report, "/r/v1")
    assert stored.fingerprints_sha256 == fingerprints_sha256(list(passed_report.fingerprints))
    assert stored.report_path == "/r/v1" and stored.policy_version == 1
    assert registry.get("trend-a", 1).tags == ("validated",)
    assert gate.require_tradable("trend-a", 1) == stored
    assert registry.tag("trend-a", 1, "live", "ana").tags == ("live", "validated")
    assert gate.get("v1") == stored and gate.records("trend-a") == [stored]


def test_a_later_failure_does_not_undo_an_earlier_pass_of_the_same_content(desk: Desk) -> None:
    registry, gate, _ = desk
    registry.register(trend(), "ana")
    good = gate.record(_report_of(registry, "trend-a@1", "v1"), "/r/v1")
    later = _report_of(registry, "trend-a@1", "v2", "pbo").model_copy(update={"finished_at_ns": 99})
    gate.record(later, "/r/v2")
    assert gate.require_tradable("trend-a", 1) == good
    assert gate.status("trend-a", 1).latest is not None


def test_a_new_version_starts_unvalidated(desk: Desk) -> None:
    registry, gate, _ = desk
    registry.register(trend(), "ana")
    gate.record(_report_of(registry, "trend-a@1", "v1"), "/r/v1")
    registry.register(trend(fast_period=12), "ana")
    with pytest.raises(PromotionRefusedError) as refused:
        registry.tag("trend-a", 2, "live", "ana")
    assert refused.value.data["reason"] == "no validation"


def test_a_record_of_other_content_proves_nothing(desk: Desk) -> None:
    registry, gate, records = desk
    registry.register(trend(), "ana")
    records.add(record("elsewhere", content_hash="9" * 64), at_ns=1)  # e.g. another desk's
    status = gate.status("trend-a", 1)
    assert (status.tradable, status.reason) == (False, "validated content differs")
    with pytest.raises(PromotionRefusedError) as refused:
        gate.require_tradable("trend-a", 1)
    assert refused.value.data["reason"] == "validated content differs"


def test_the_validated_tag_cannot_be_set_by_hand(desk: Desk) -> None:
    registry, gate, _ = desk
    registry.register(trend(), "ana")
    gate.record(_report_of(registry, "trend-a@1", "v1"), "/r/v1")
    registry.register(trend(fast_period=12), "ana")
    for version in (1, 2):  # not even on a version that passed: only the gate sets it
        with pytest.raises(PromotionRefusedError) as refused:
            registry.tag("trend-a", version, "validated", "mallory")
        assert refused.value.code == "tag_reserved"
    assert registry.get("trend-a", 2).tags == ()
    assert registry.tag("trend-a", 2, "paper", "ana").tags == ("paper",)  # others are free


def test_an_override_needs_a_reason_and_lets_the_version_trade(desk: Desk) -> None:
    registry, gate, _ = desk
    registry.register(trend(), "ana")
    for reason in ("", "   "):
        with pytest.raises(InvalidInputError):
            gate.override("trend-a", 1, "root", reason)
    override = gate.override("trend-a", 1, "root", "desk demo, capped at 1 lot")
    assert gate.require_tradable("trend-a", 1) == override
    assert gate.status("trend-a", 1).reason == "override"
    assert registry.tag("trend-a", 1, "live", "root").tags == ("live",)
    registry.register(trend(fast_period=12), "ana")  # the override is of v1's content only
    with pytest.raises(PromotionRefusedError):
        gate.require_tradable("trend-a", 2)


def test_every_decision_is_on_the_audit_chain_and_it_holds(desk: Desk) -> None:
    registry, gate, _ = desk
    registry.register(trend(), "ana")
    gate.record(_report_of(registry, "trend-a@1", "v1", "pbo"), "/r/v1")
    gate.record(_report_of(registry, "trend-a@1", "v2"), "/r/v2")
    gate.override("trend-a", 1, "root", "because")
    actions = [(e.action, e.subject, e.actor) for e in registry.audit_events()]
    assert actions == [
        ("strategy_registered", "trend-a@1", "ana"),
        ("validation_recorded", "trend-a@1", "ana"),
        ("validation_recorded", "trend-a@1", "ana"),
        ("strategy_tagged", "trend-a@1", "ana"),
        ("promotion_overridden", "trend-a@1", "root"),
    ]
    recorded = registry.audit_events()[2].payload
    assert (recorded["validation_id"], recorded["passed"]) == ("v2", True)
    assert registry.verify_audit().holds
