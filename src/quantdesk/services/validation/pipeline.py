"""The validation pipeline (``validation run ID@VERSION``): every step as ordinary trials on
one pool, a report with every check and the numbers behind it, the record that gates
promotion.

The run: resolve the version and the policy, pin the range to the catalog's data (as a
backtest does), run the version's own full-range trial (the *candidate*), then the steps in
order: periods and regimes, walk-forward, overfitting statistics, stress scenarios, Monte
Carlo, baselines, risk compliance. Each one is a :class:`StepReport` of checks against the
policy's thresholds. The report passes iff every check passes; a step that could not run
(too short a range, no trades to resample) fails the gate unless the policy switches the
step off (``skip_steps``): missing evidence is never a pass. The report is saved (JSON and
HTML) and handed to the promotion gate, which stores the record and tags a passing version
``validated``.
"""

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import quantdesk
from quantdesk.domain.backtest import BacktestRequest
from quantdesk.domain.backtest_settings import EngineOptions
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.optimisation.study import StudyRecord
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.domain.trials import TrialOutcome
from quantdesk.domain.validation.report import (
    StepReport,
    ValidationRecord,
    ValidationReport,
    ValidationStep,
)
from quantdesk.services.backtest_ticks import require_bars
from quantdesk.services.backtests import BacktestService
from quantdesk.services.optimisation.service import OptimisationService
from quantdesk.services.ports import MarketDataCatalog, SignalStore
from quantdesk.services.ports.progress import ProgressReporter, SilentProgress
from quantdesk.services.ports.scratch import ScratchCatalogs
from quantdesk.services.ports.trials import TrialPool
from quantdesk.services.registry import StrategyRegistry
from quantdesk.services.validation.baselines import baselines_step
from quantdesk.services.validation.checks import at_least, at_most, loss_at_most, step_report
from quantdesk.services.validation.compliance import compliance_section
from quantdesk.services.validation.context import ValidationContext
from quantdesk.services.validation.monte_carlo_step import monte_carlo_step
from quantdesk.services.validation.overfitting_step import overfitting_step
from quantdesk.services.validation.periods import (
    RegimeLabeller,
    period_ranges,
    period_row,
    periods_section,
)
from quantdesk.services.validation.policies import PolicyService
from quantdesk.services.validation.promotion import PromotionGate
from quantdesk.services.validation.stress_step import stress_step
from quantdesk.services.validation.walk_forward import walk_forward_step

CANDIDATE_TASK = "candidate backtest"
PERIODS_TASK = "periods and regimes"
WALK_FORWARD_TASK = "walk-forward"
OVERFITTING_TASK = "overfitting statistics"
STRESS_TASK = "stress scenarios"
MONTE_CARLO_TASK = "monte carlo"
BASELINES_TASK = "baselines"
COMPLIANCE_TASK = "risk compliance"
REPORT_TASK = "report and record"
VALIDATION_TASKS = (
    CANDIDATE_TASK,
    PERIODS_TASK,
    WALK_FORWARD_TASK,
    OVERFITTING_TASK,
    STRESS_TASK,
    MONTE_CARLO_TASK,
    BASELINES_TASK,
    COMPLIANCE_TASK,
    REPORT_TASK,
)
"""The ``ProgressReporter`` tasks of a validation, in order (the job weighs them)."""

CANDIDATE_KEY = "candidate"
SWITCHED_OFF = "switched off by the policy"
StepResult = tuple[Any, StepReport]  # (the step's section or None, its report)
Step = Callable[[], StepResult]


@dataclass(frozen=True)
class ValidationParts:
    """What the pipeline is built from (``bootstrap_research._validation``)."""

    registry: StrategyRegistry
    backtests: BacktestService  # plans and pins the range (trials run on the pool)
    catalog: MarketDataCatalog  # closes for the regime labels and the baselines
    signals: SignalStore | None  # buffered regime signals, when a strategy subscribes
    policies: PolicyService
    promotion: PromotionGate
    optimisation: OptimisationService  # the walk-forward's in-sample searches
    open_pool: Callable[[int, str | None], TrialPool]
    scratch: Callable[[], ScratchCatalogs]  # stress scenarios' scratch copies
    workers: int  # settings.sweep_workers: the default pool size
    ray_address: str | None  # settings.ray_address: the default cluster
    engine_version: str
    studies: Callable[[], list[StudyRecord]] | None = None  # optimisation study records
    clock: Callable[[], int] = time.time_ns


class ValidationService:
    """Built by ``bootstrap_research``."""

    def __init__(self, parts: ValidationParts) -> None:
        self._parts = parts

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
        """Validate ``ref`` under ``policy`` (the default when None) over the range (the
        catalog's data where open); the stored record (the report saved beside it)."""
        parts = self._parts
        started_ns = parts.clock()
        version = parts.registry.resolve(ref)
        definition = version.definition
        require_bars(definition, "validation")
        stored = parts.policies.current(policy)
        request = self._pinned_request(version.ref, definition, start_ns, end_ns)
        pool = parts.open_pool(workers or parts.workers, ray_address or parts.ray_address)
        ctx = ValidationContext(
            definition=definition,
            ref=version.ref,
            policy=stored.policy,
            request=request,
            pool=pool,
            progress=progress or SilentProgress(),
            study=self._study_of(version.ref),
        )
        try:
            candidate, sections = self._steps(ctx)
        finally:
            pool.close()
        with ctx.step(REPORT_TASK):
            report = ValidationReport(
                validation_id=f"val-{uuid.uuid4().hex[:16]}",
                strategy_id=definition.strategy_id,
                version=version.version,
                content_hash=version.content_hash,
                policy_name=stored.name,
                policy_version=stored.version,
                policy_sha256=stored.sha256,
                start_ns=ctx.start_ns,
                end_ns=ctx.end_ns,
                passed=all(s.passed for s in ctx.steps),
                steps=ctx.steps,
                candidate_fingerprint=candidate.fingerprint,
                fingerprints=sorted(set(ctx.fingerprints)),
                trials_run=len(ctx.outcomes),
                started_at_ns=started_ns,
                finished_at_ns=parts.clock(),
                quantdesk_version=quantdesk.__version__,
                engine_version=parts.engine_version,
                actor=actor,
                warnings=ctx.warnings,
                **sections,
            )
            folder = parts.promotion.reports.save(report)
            return parts.promotion.record(report, folder)

    # --- the steps ---------------------------------------------------------------------------

    def _steps(self, ctx: ValidationContext) -> tuple[TrialOutcome, dict[str, Any]]:
        parts = self._parts
        policy = ctx.policy
        with ctx.step(CANDIDATE_TASK, 1):
            candidate = ctx.run([ctx.spec(CANDIDATE_KEY)])[0]
        if not candidate.ok:
            raise InvalidInputError(
                f"{ctx.ref} does not run over the validation's range: {candidate.error}",
                hint="backtest it first (`quantdesk backtest`) and fix what it reports",
                code="validation_candidate_failed",
                data={"ref": ctx.ref, "reason": candidate.code},
            )
        wf = policy.walk_forward
        plan: list[tuple[str, ValidationStep, str, int | None, Step]] = [
            (
                "periods",
                ValidationStep.PERIODS,
                PERIODS_TASK,
                policy.periods.periods,
                lambda: self._periods(ctx, candidate),
            ),
            (
                "walk_forward",
                ValidationStep.WALK_FORWARD,
                WALK_FORWARD_TASK,
                wf.windows * (wf.trials + 1),
                lambda: walk_forward_step(ctx, parts.optimisation),
            ),
            (
                "overfitting",
                ValidationStep.OVERFITTING,
                OVERFITTING_TASK,
                policy.overfitting.configurations - 1,
                lambda: overfitting_step(ctx, candidate),
            ),
            (
                "stress",
                ValidationStep.STRESS,
                STRESS_TASK,
                len(policy.stress.scenarios),
                lambda: stress_step(ctx, parts.scratch()),
            ),
            (
                "monte_carlo",
                ValidationStep.MONTE_CARLO,
                MONTE_CARLO_TASK,
                None,
                lambda: monte_carlo_step(ctx, candidate),
            ),
            (
                "baselines",
                ValidationStep.BASELINES,
                BASELINES_TASK,
                None,
                lambda: baselines_step(ctx, candidate, parts.catalog),
            ),
            (
                "compliance",
                ValidationStep.COMPLIANCE,
                COMPLIANCE_TASK,
                None,
                lambda: self._compliance(ctx),
            ),
        ]
        sections: dict[str, Any] = {}
        for name, step, task, total, body in plan:
            sections[name] = self._guarded(ctx, step, task, total, body)
        return candidate, sections

    def _guarded(
        self,
        ctx: ValidationContext,
        step: ValidationStep,
        task: str,
        total: int | None,
        body: Step,
    ) -> Any:
        """Run one step: switched off by the policy (passing, said so), refused for the
        data (an ``InvalidInputError``: skipped, failing, warned), or its section."""
        with ctx.step(task, total):
            if ctx.skipped_by_policy(step):
                ctx.steps.append(StepReport(step=step, passed=True, skipped=SWITCHED_OFF))
                return None
            began = time.perf_counter()
            before = len(ctx.outcomes)
            try:
                section, report = body()
            except InvalidInputError as error:
                section, report = None, step_report(step, [], skipped=error.message)
            if report.skipped is not None:
                ctx.warnings.append(f"{step.value} skipped: {report.skipped}")
            ctx.steps.append(
                report.model_copy(
                    update={
                        "trials": len(ctx.outcomes) - before,
                        "seconds": round(time.perf_counter() - began, 6),
                    }
                )
            )
            return section

    def _periods(self, ctx: ValidationContext, candidate: TrialOutcome) -> StepResult:
        """The full range's checks (drawdown, volatility, trades) and the periods' own."""
        thresholds = ctx.policy.thresholds
        metrics = candidate.metrics
        assert metrics is not None
        step = ValidationStep.PERIODS
        full = at_least("min_trades", step, metrics.trade_count, thresholds.min_trades)
        full += loss_at_most("max_drawdown", step, metrics.max_drawdown, thresholds.max_drawdown)
        full += at_most(
            "max_volatility", step, metrics.annual_volatility, thresholds.max_volatility
        )
        ranges = period_ranges(ctx.start_ns, ctx.end_ns, ctx.policy.periods.periods)
        if not ranges:
            return None, step_report(step, full, skipped="the range is shorter than two days")
        labeller = RegimeLabeller(self._parts.catalog, self._parts.signals)
        source, labels = labeller.label(ctx.definition, ranges)
        specs = [ctx.spec(f"period-{i}", start_ns=s, end_ns=e) for i, (s, e) in enumerate(ranges)]
        outcomes = ctx.run(specs)
        rows = [
            period_row(i, s, e, labels[i], o)
            for i, ((s, e), o) in enumerate(zip(ranges, outcomes, strict=True))
        ]
        section, checks = periods_section(source, rows, thresholds)
        return section, step_report(step, full + checks)

    def _compliance(self, ctx: ValidationContext) -> StepResult:
        section, checks = compliance_section(ctx.definition, ctx.outcomes, ctx.policy.thresholds)
        return section, step_report(ValidationStep.COMPLIANCE, checks)

    # --- helpers -----------------------------------------------------------------------------

    def _study_of(self, ref: str) -> tuple[str, int] | None:
        """(name, trials) of the optimisation study that registered ``ref``, if one did."""
        if self._parts.studies is None:
            return None
        found = [r for r in self._parts.studies() if r.registered_ref == ref]
        return None if not found else (found[0].name, found[0].trials_requested)

    def _pinned_request(
        self,
        ref: str,
        definition: StrategyDefinition,
        start_ns: int | None,
        end_ns: int | None,
    ) -> BacktestRequest:
        """The version's request over the range pinned to the catalog's data (a backtest's
        own pinning: the same checks, the same bounds)."""
        request = BacktestRequest(
            strategies=[ref],
            pinned=[definition],
            start_ns=start_ns,
            end_ns=end_ns,
            engine=EngineOptions(log_level="OFF"),
            label="validation",
        )
        backtests = self._parts.backtests
        plan, _ = backtests.prepare_plan(backtests.plan(request, [definition]))
        return request.model_copy(
            update={"start_ns": plan.request.start_ns, "end_ns": plan.request.end_ns}
        )
