"""Small validation reports and records for the gate's and the stores' tests (no engine)."""

from typing import Any

from quantdesk.domain.validation.report import (
    Check,
    StepReport,
    ValidationRecord,
    ValidationReport,
    ValidationStep,
)

HASH_A = "a" * 64
HASH_B = "b" * 64


def check(name: str, passed: bool, value: float = 1.0, threshold: float = 0.5) -> Check:
    return Check(
        name=name,
        step=ValidationStep.WALK_FORWARD,
        passed=passed,
        value=value,
        threshold=threshold,
        comparison=">=",
    )


def report(
    validation_id: str = "v1",
    *,
    strategy_id: str = "trend-a",
    version: int = 1,
    content_hash: str = HASH_A,
    failed: tuple[str, ...] = (),
    **fields: Any,
) -> ValidationReport:
    """A report whose checks fail exactly ``failed`` (passing when empty)."""
    checks = [check("oos_sharpe", "oos_sharpe" not in failed)] + [
        check(name, False) for name in failed if name != "oos_sharpe"
    ]
    step = StepReport(step=ValidationStep.WALK_FORWARD, passed=not failed, checks=checks, trials=3)
    values: dict[str, Any] = {
        "validation_id": validation_id,
        "strategy_id": strategy_id,
        "version": version,
        "content_hash": content_hash,
        "policy_name": "default",
        "policy_version": 1,
        "policy_sha256": "c" * 64,
        "start_ns": 0,
        "end_ns": 86_400_000_000_000,
        "passed": not failed,
        "steps": [step],
        "candidate_fingerprint": "d" * 64,
        "fingerprints": ["f2" * 32, "f1" * 32],
        "trials_run": 3,
        "started_at_ns": 10,
        "finished_at_ns": 20,
        "quantdesk_version": "0",
        "engine_version": "0",
        "actor": "ana",
        **fields,
    }
    return ValidationReport.model_validate(values)


def record(validation_id: str = "v1", **fields: Any) -> ValidationRecord:
    values: dict[str, Any] = {
        "validation_id": validation_id,
        "strategy_id": "trend-a",
        "version": 1,
        "content_hash": HASH_A,
        "policy_name": "default",
        "policy_version": 1,
        "passed": True,
        "failed_checks": [],
        "candidate_fingerprint": "d" * 64,
        "fingerprints_sha256": "e" * 64,
        "trials_run": 3,
        "actor": "ana",
        "started_at_ns": 10,
        "finished_at_ns": 20,
        "report_path": f"/validations/{validation_id}",
        **fields,
    }
    return ValidationRecord.model_validate(values)
