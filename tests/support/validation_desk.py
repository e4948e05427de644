"""TESTS ONLY: a desk whose research parts are the real policies and promotion gate, with a
``ValidationService`` stand-in (no engine): the plumbing of the CLI, the API and the job is
tested without the pipeline's minutes.

The stand-in keeps ``ValidationService.run``'s contract: it resolves the version, reads the
policy, reports progress on the pipeline's tasks, saves the report through the gate's
``ValidationReports`` and records it through the gate. Its verdict: a policy asking an
out-of-sample Sharpe above 1 fails (``oos_sharpe``), any other passes.
"""

import time
import uuid
from typing import Any, TextIO

import pytest

from quantdesk import bootstrap_research
from quantdesk.adapters.storage.validation_reports import FileValidationReports
from quantdesk.domain.validation.report import ValidationRecord, ValidationReport
from quantdesk.services.platform import Platform
from quantdesk.services.ports.progress import ProgressReporter
from quantdesk.services.ports.validation import ValidationReports
from quantdesk.services.validation.policies import PolicyService
from quantdesk.services.validation.promotion import PromotionGate
from quantdesk.settings import QuantdeskSettings
from support.validation_records import report

TASKS = ("periods", "walk_forward", "overfitting")


class FakeValidationService:
    def __init__(self, platform: Platform, policies: PolicyService, promotion: PromotionGate):
        self._platform = platform
        self._policies = policies
        self._promotion = promotion
        self.calls: list[dict[str, Any]] = []

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
        self.calls.append({"ref": ref, "policy": policy, "start_ns": start_ns, "workers": workers})
        stored = self._platform.registry.resolve(ref)
        used = self._policies.current(policy)
        for name in TASKS:
            if progress is not None:
                with progress.task(name, 2) as advance:
                    advance(2)
        strict = (used.policy.thresholds.min_oos_sharpe or 0.0) > 1.0
        now = time.time_ns()
        made = report(
            uuid.uuid4().hex[:16],
            strategy_id=stored.strategy_id,
            version=stored.version,
            content_hash=stored.content_hash,
            failed=("oos_sharpe",) if strict else (),
            policy_name=used.name,
            policy_version=used.version,
            policy_sha256=used.sha256,
            start_ns=start_ns or 0,
            end_ns=end_ns or 86_400_000_000_000,
            actor=actor,
            started_at_ns=now,
            finished_at_ns=now + 1,
        )
        return self._promotion.publish(made)


def plain_html(report: ValidationReport, out: TextIO) -> None:
    out.write(f"<html><body>validation {report.validation_id} of {report.ref}</body></html>")


def fake_research(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every desk built after this has the stand-in pipeline (and plain HTML reports); the
    other research parts (pools, optimisation) are not built."""

    def reports(settings: QuantdeskSettings) -> ValidationReports:
        return FileValidationReports(settings.validations_dir, plain_html)

    def validation(
        settings: QuantdeskSettings,
        platform: Platform,
        pools: object,
        policies: PolicyService,
        promotion: PromotionGate,
        optimisation: object,
    ) -> FakeValidationService:
        return FakeValidationService(platform, policies, promotion)

    monkeypatch.setattr(bootstrap_research, "_promotion_reports", reports)
    monkeypatch.setattr(bootstrap_research, "_trial_pools", lambda *_: None)
    monkeypatch.setattr(bootstrap_research, "_optimisation", lambda *_: None)
    monkeypatch.setattr(bootstrap_research, "_validation", validation)


STRICT_POLICY = """\
name: strict
description: asks more than the stand-in pipeline can show
thresholds:
  min_oos_sharpe: 1.5
"""
