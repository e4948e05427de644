"""Where validation keeps what it decided: policy versions, validation records and overrides
(the database), and the reports behind the records (files: JSON beside its HTML).

Every database write appends its audit event in the same transaction, so the chain can
never miss a policy change, a validation's verdict or an admin's override.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TextIO

from quantdesk.domain.validation.policy import StoredPolicy, ValidationPolicy
from quantdesk.domain.validation.report import (
    PromotionOverride,
    ValidationRecord,
    ValidationReport,
)
from quantdesk.services.ports.progress import ProgressReporter

POLICY_SET = "validation_policy_set"  # audit actions written by the stores
VALIDATION_RECORDED = "validation_recorded"
PROMOTION_OVERRIDDEN = "promotion_overridden"

ReportRender = Callable[[ValidationReport, TextIO], None]
"""Writes a report's HTML (the reporting adapter's ``write``; storage never imports it)."""


class PolicyStore(Protocol):
    """Validation policies, each name versioned 1, 2, ... (inserted once, never updated)."""

    def add(
        self, policy: ValidationPolicy, *, sha256: str, actor: str, at_ns: int
    ) -> tuple[StoredPolicy, bool]:
        """Store the next version of ``policy.name`` with its ``validation_policy_set`` event,
        atomically; the newest version unchanged (False) when its ``sha256`` is the same."""
        ...

    def current(self, name: str) -> StoredPolicy | None:
        """The newest version of ``name``; None before the first."""
        ...

    def get(self, name: str, version: int) -> StoredPolicy | None: ...

    def history(self, name: str) -> list[StoredPolicy]:
        """Every version of ``name``, oldest first (empty when unknown)."""
        ...

    def names(self) -> list[str]:
        """Every policy name stored, sorted."""
        ...


class ValidationRecordStore(Protocol):
    """Validation records and promotion overrides, both keyed by the exact content they judged
    (strategy_id, version, content_hash): a record of other content proves nothing."""

    def add(self, record: ValidationRecord, *, at_ns: int) -> None:
        """Store a record with its ``validation_recorded`` event, atomically; an id stored
        already is a ConflictError (code ``validation_exists``)."""
        ...

    def get(self, validation_id: str) -> ValidationRecord | None: ...

    def latest(self, strategy_id: str, version: int, content_hash: str) -> ValidationRecord | None:
        """The newest record (by ``finished_at_ns``, then id) of exactly this content."""
        ...

    def passing(self, strategy_id: str, version: int, content_hash: str) -> ValidationRecord | None:
        """The newest passing record of exactly this content."""
        ...

    def list(
        self, strategy_id: str | None = None, version: int | None = None, *, limit: int = 100
    ) -> list[ValidationRecord]:
        """Newest first, at most ``limit``; all strategies when ``strategy_id`` is None."""
        ...

    def add_override(self, override: PromotionOverride) -> None:
        """Store an override with its ``promotion_overridden`` event, atomically."""
        ...

    def override(
        self, strategy_id: str, version: int, content_hash: str
    ) -> PromotionOverride | None:
        """The newest override of exactly this content."""
        ...


class ValidationReports(Protocol):
    """Reports as files: ``<validations_dir>/<validation_id>/report.json`` and ``report.html``."""

    def save(self, report: ValidationReport) -> str:
        """Write both files (atomically each) and return the report's directory."""
        ...

    def load(self, validation_id: str) -> ValidationReport:
        """The stored JSON report (NotFoundError when there is none)."""
        ...

    def html(self, validation_id: str) -> Path:
        """The HTML report's path (NotFoundError when there is none)."""
        ...


class ValidationRunner(Protocol):
    """What the interfaces (CLI, job handler) call on the pipeline: ``ValidationService.run``.

    Typed here so the job and the CLI depend on the call, not on the pipeline's module.
    """

    def run(
        self,
        ref: str,
        *,
        policy: str | None = None,
        start_ns: int | None = None,
        end_ns: int | None = None,
        workers: int | None = None,
        ray_address: str | None = None,
        actor: str = "local",
        progress: ProgressReporter | None = None,
    ) -> ValidationRecord:
        """Every step of the policy, the report saved, the record through the gate."""
        ...
