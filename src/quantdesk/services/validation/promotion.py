"""The promotion gate (R8.8): only evidence lets a version trade.

A validation run ends here: its record is stored (audited) and, when it passed, the version
gets the ``validated`` tag. Trading needs a passing record of exactly the version's content
(or an admin's override, with its reason, audited): ``require_tradable`` is the one check
the registry's ``live`` tag and the paper/live sessions call. Records are keyed by content
hash, so a new version (new content) starts unvalidated whatever its predecessor earned.

The ``validated`` tag is the gate's alone: the registry asks ``check_tag`` before every tag,
and the gate grants ``validated`` only to the tag it sets itself (a context variable marks
that call, so no caller can pass a flag to get around it).
"""

import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from quantdesk.domain.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PromotionRefusedError,
)
from quantdesk.domain.strategies.versions import StrategyVersion
from quantdesk.domain.text import validate_actor, validate_reason
from quantdesk.domain.validation.report import (
    PromotionOverride,
    ValidationRecord,
    ValidationReport,
)
from quantdesk.services.ports.validation import ValidationRecordStore, ValidationReports
from quantdesk.services.registry import StrategyRegistry

VALIDATED_TAG = "validated"
LIVE_TAG = "live"
PROMOTION_TAGS = frozenset({VALIDATED_TAG, LIVE_TAG})  # the tags check_tag may refuse
NO_VALIDATION = "no validation"
LAST_FAILED = "last validation failed"
CONTENT_DIFFERS = "validated content differs"

_granting: ContextVar[tuple[str, int] | None] = ContextVar("promotion_granting", default=None)


@dataclass(frozen=True)
class PromotionStatus:
    """Where one version stands: tradable or not, why, and the evidence either way."""

    ref: str
    content_hash: str
    tradable: bool
    reason: str  # "validated", "override" or why not (the refusal's reason)
    latest: ValidationRecord | None
    passing: ValidationRecord | None
    override: PromotionOverride | None


def fingerprints_sha256(fingerprints: list[str]) -> str:
    """One digest of a validation's trials, whatever order they ran in."""
    return hashlib.sha256("\n".join(sorted(fingerprints)).encode()).hexdigest()


def record_of(report: ValidationReport, report_dir: str) -> ValidationRecord:
    return ValidationRecord(
        validation_id=report.validation_id,
        strategy_id=report.strategy_id,
        version=report.version,
        content_hash=report.content_hash,
        policy_name=report.policy_name,
        policy_version=report.policy_version,
        passed=report.passed,
        failed_checks=[check.name for check in report.failed_checks],
        candidate_fingerprint=report.candidate_fingerprint,
        fingerprints_sha256=fingerprints_sha256(report.fingerprints),
        trials_run=report.trials_run,
        actor=report.actor,
        started_at_ns=report.started_at_ns,
        finished_at_ns=report.finished_at_ns,
        report_path=report_dir,
    )


class PromotionGate:
    """Built by ``bootstrap_research``; installs ``check_tag`` as the registry's tag guard."""

    def __init__(
        self,
        records: ValidationRecordStore,
        registry: StrategyRegistry,
        reports: ValidationReports,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self._records = records
        self._registry = registry
        self._clock = clock
        self.reports = reports  # the pipeline saves through it; interfaces read reports back

    # --- writes ------------------------------------------------------------------------------

    def record(self, report: ValidationReport, report_dir: str) -> ValidationRecord:
        """Store the run's record (audited); a passing one tags the version ``validated``."""
        stored = self._registry.get(report.strategy_id, report.version)
        if stored.content_hash != report.content_hash:
            raise ConflictError(
                f"the report of {report.ref} judged other content than the registry holds",
                code="validation_content_mismatch",
                data={"ref": report.ref, "content_hash": report.content_hash},
            )
        record = record_of(report, report_dir)
        self._records.add(record, at_ns=self._clock())
        if record.passed:
            with _granted(record.strategy_id, record.version):
                self._registry.tag(record.strategy_id, record.version, VALIDATED_TAG, record.actor)
        return record

    def publish(self, report: ValidationReport) -> ValidationRecord:
        """A finished validation's end: its report saved (JSON and HTML), then recorded."""
        return self.record(report, self.reports.save(report))

    def override(
        self, strategy_id: str, version: int, actor: str, reason: str
    ) -> PromotionOverride:
        """Let a version trade without a passing record; the reason is required (audited).

        Who may do this (an admin) is the interface's decision, not the gate's.
        """
        text = validate_reason(reason, "override reason").strip()
        if not text:
            raise InvalidInputError("an override needs a reason", code="override_reason_required")
        stored = self._registry.get(strategy_id, version)
        override = PromotionOverride(
            strategy_id=stored.strategy_id,
            version=stored.version,
            content_hash=stored.content_hash,
            actor=validate_actor(actor),
            reason=text,
            at_ns=self._clock(),
        )
        self._records.add_override(override)
        return override

    # --- checks ------------------------------------------------------------------------------

    def require_tradable(
        self, strategy_id: str, version: int
    ) -> ValidationRecord | PromotionOverride:
        """The evidence that lets this version trade, or PromotionRefusedError saying why."""
        status = self.status(strategy_id, version)
        if status.passing is not None:
            return status.passing
        if status.override is not None:
            return status.override
        failed = "" if status.latest is None else ", ".join(status.latest.failed_checks)
        raise PromotionRefusedError(
            f"{status.ref} may not trade: {status.reason}",
            hint="validate the version (or an admin overrides the gate with a reason)",
            data={
                "ref": status.ref,
                "reason": status.reason.split(":")[0],
                "failed_checks": failed or None,
                "validation_id": None if status.latest is None else status.latest.validation_id,
            },
        )

    def status(self, strategy_id: str, version: int) -> PromotionStatus:
        stored = self._registry.get(strategy_id, version)
        key = (stored.strategy_id, stored.version, stored.content_hash)
        passing = self._records.passing(*key)
        override = self._records.override(*key)
        latest = self._records.latest(*key)
        if passing is not None:
            reason = "validated"
        elif override is not None:
            reason = "override"
        elif latest is not None:
            reason = f"{LAST_FAILED}: {', '.join(latest.failed_checks) or 'no check named'}"
        elif self._records.list(stored.strategy_id, stored.version, limit=1):
            reason = CONTENT_DIFFERS  # records of this version's number judged other content
        else:
            reason = NO_VALIDATION
        return PromotionStatus(
            ref=stored.ref,
            content_hash=stored.content_hash,
            tradable=passing is not None or override is not None,
            reason=reason,
            latest=latest,
            passing=passing,
            override=override,
        )

    def check_tag(self, version: StrategyVersion, tag: str) -> None:
        """The registry's tag guard: ``live`` needs tradable evidence, ``validated`` the gate."""
        if tag == VALIDATED_TAG and _granting.get() != (version.strategy_id, version.version):
            raise PromotionRefusedError(
                f"the {VALIDATED_TAG!r} tag is set by a passing validation only, not by hand",
                hint="validate the version",
                code="tag_reserved",
                data={"ref": version.ref, "tag": tag, "reason": "reserved tag"},
            )
        if tag == LIVE_TAG:
            self.require_tradable(version.strategy_id, version.version)

    # --- reads -------------------------------------------------------------------------------

    def get(self, validation_id: str) -> ValidationRecord:
        found = self._records.get(validation_id)
        if found is None:
            raise NotFoundError(
                f"there is no validation {validation_id[:64]!r}",
                code="validation_not_found",
                data={"validation_id": validation_id[:64]},
            )
        return found

    def records(
        self, strategy_id: str | None = None, version: int | None = None, *, limit: int = 100
    ) -> list[ValidationRecord]:
        """Newest first."""
        return self._records.list(strategy_id, version, limit=limit)

    def report(self, validation_id: str) -> ValidationReport:
        """The full JSON report behind a record."""
        return self.reports.load(self.get(validation_id).validation_id)


@contextmanager
def _granted(strategy_id: str, version: int) -> Iterator[None]:
    token = _granting.set((strategy_id, version))
    try:
        yield
    finally:
        _granting.reset(token)
