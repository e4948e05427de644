"""The routes of research: strategies (the registry), backtests and their results, jobs."""

from collections.abc import Mapping
from typing import Any, Literal

from quantdesk.api.schemas.backtest import (
    BacktestAccepted,
    BacktestCreate,
    EquityPoint,
    FillOut,
    PositionOut,
    RunComparison,
    RunOut,
    RunResultOut,
)
from quantdesk.api.schemas.jobs import JobOut
from quantdesk.api.schemas.strategies import (
    FamilySchema,
    Registered,
    StrategyDetail,
    StrategyDiff,
    StrategyExport,
    StrategySummary,
    ValidationAccepted,
)
from quantdesk.api.schemas.validation import (
    OverrideOut,
    PolicyOut,
    PolicyStored,
    PromotionStatusOut,
    ValidationRecordOut,
    ValidationRunAccepted,
    ValidationRunCreate,
)
from quantdesk.client._transport import (
    Call,
    as_json,
    content,
    get,
    model,
    path,
    post,
    text,
)
from quantdesk.client.models import Page
from quantdesk.domain.jobs import JobKind, JobState
from quantdesk.domain.runs import RunState
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.domain.validation.report import ValidationReport

Definition = StrategyDefinition | Mapping[str, Any]
Artifact = Literal["fills", "positions", "equity"]


# strategies ------------------------------------------------------------------------------


def strategies(
    *,
    family: str | None = None,
    tag: str | None = None,
    q: str | None = None,
    include_deprecated: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> Call[Page[StrategySummary]]:
    """Each strategy's newest version (with ``tag``: the version carrying it)."""
    return get(
        "/strategies",
        Page[StrategySummary],
        family=family,
        tag=tag,
        q=q,
        include_deprecated=include_deprecated,
        limit=limit,
        offset=offset,
    )


def strategy_families(*, limit: int = 50, offset: int = 0) -> Call[Page[FamilySchema]]:
    return get("/strategies/families", Page[FamilySchema], limit=limit, offset=offset)


def strategy(ref: str) -> Call[StrategyDetail]:
    """One version in full: ``ID``, ``ID@VERSION`` or ``ID@TAG``."""
    return get(path("strategies", ref), StrategyDetail)


def register_strategy(definition: Definition, *, reason: str = "") -> Call[Registered]:
    """Version 1 of a new strategy (``created`` False: the same content was stored already)."""
    return post("/strategies", Registered, {"definition": definition, "reason": reason})


def update_strategy(definition: Definition, *, reason: str = "") -> Call[Registered]:
    """The next version of the strategy the definition names."""
    strategy_id = (
        definition.strategy_id
        if isinstance(definition, StrategyDefinition)
        else str(definition["strategy_id"])
    )
    body = as_json({"definition": definition, "reason": reason})
    return Call("PUT", path("strategies", strategy_id), model(Registered), json=body)


def strategy_history(
    strategy_id: str, *, limit: int = 50, offset: int = 0
) -> Call[Page[StrategySummary]]:
    route = path("strategies", strategy_id, "history")
    return get(route, Page[StrategySummary], limit=limit, offset=offset)


def strategy_diff(strategy_id: str, from_version: int, to_version: int) -> Call[StrategyDiff]:
    route = path("strategies", strategy_id, "diff")
    return get(route, StrategyDiff, from_version=from_version, to_version=to_version)


def tag_strategy(strategy_id: str, tag: str, version: int) -> Call[StrategyDetail]:
    route = path("strategies", strategy_id, "tags", tag)
    return Call("PUT", route, model(StrategyDetail), json={"version": version})


def deprecate_strategy(ref: str, *, reason: str = "") -> Call[StrategyDetail]:
    return post(path("strategies", ref, "deprecate"), StrategyDetail, {"reason": reason})


def validate_strategy(ref: str) -> Call[ValidationAccepted]:
    """Validate a version as a job; the outcome shows on the version when it completes."""
    return post(path("strategies", ref, "validate"), ValidationAccepted)


def run_validation(
    ref: str,
    *,
    policy: str | None = None,
    start_ns: int | None = None,
    end_ns: int | None = None,
    workers: int | None = None,
    ray_address: str | None = None,
) -> Call[ValidationRunAccepted]:
    """Validate a version for trading as a job (``validation_run``); its result is the record."""
    body = ValidationRunCreate(
        policy=policy, start_ns=start_ns, end_ns=end_ns, workers=workers, ray_address=ray_address
    )
    return Call(
        "POST",
        path("strategies", ref, "validation"),
        model(ValidationRunAccepted),
        json=body.model_dump(mode="json", exclude_none=True),
    )


def strategy_validations(
    ref: str, *, limit: int = 50, offset: int = 0
) -> Call[Page[ValidationRecordOut]]:
    """The validation records of a strategy (``ID``) or a version (``ID@VERSION``)."""
    route = path("strategies", ref, "validations")
    return get(route, Page[ValidationRecordOut], limit=limit, offset=offset)


def promotion_status(ref: str) -> Call[PromotionStatusOut]:
    """Whether a version may trade, and the evidence either way."""
    return get(path("strategies", ref, "promotion"), PromotionStatusOut)


def promotion_override(ref: str, reason: str) -> Call[OverrideOut]:
    """Let a version trade without a passing validation (admin; the reason is audited)."""
    return post(path("strategies", ref, "promotion-override"), OverrideOut, {"reason": reason})


def validation(validation_id: str) -> Call[ValidationReport]:
    """The full report of one validation."""
    return get(path("validations", validation_id), ValidationReport)


def validation_report(validation_id: str) -> Call[str]:
    """The validation's self-contained HTML report."""
    return Call("GET", path("validations", validation_id, "report"), text)


def validation_policies(*, limit: int = 50, offset: int = 0) -> Call[Page[PolicyOut]]:
    return get("/validation-policies", Page[PolicyOut], limit=limit, offset=offset)


def validation_policy(name: str, *, version: int | None = None) -> Call[PolicyOut]:
    return get(path("validation-policies", name), PolicyOut, version=version)


def set_validation_policy(name: str, policy: Mapping[str, Any]) -> Call[PolicyStored]:
    """Store a policy document (admin): a new version when its content changed."""
    body = as_json({"policy": policy})
    return Call("PUT", path("validation-policies", name), model(PolicyStored), json=body)


def export_strategy(ref: str, *, module: str | None = None) -> Call[StrategyExport]:
    """A family version as a standalone module (feature flag ``strategy_export``)."""
    return get(path("strategies", ref, "export"), StrategyExport, module=module)


# backtests -------------------------------------------------------------------------------


def submit_backtest(request: BacktestCreate | Mapping[str, Any]) -> Call[BacktestAccepted]:
    """Submit a run (one portfolio of registered strategies); it runs as a job."""
    checked = request if isinstance(request, BacktestCreate) else BacktestCreate(**request)
    return post("/backtest", BacktestAccepted, checked)


def runs(
    *,
    state: RunState | None = None,
    label: str | None = None,
    strategy: str | None = None,
    submitted_by: str | None = None,
    since_ns: int | None = None,
    until_ns: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Call[Page[RunOut]]:
    return get(
        "/backtest",
        Page[RunOut],
        state=state,
        label=label,
        strategy=strategy,
        submitted_by=submitted_by,
        since_ns=since_ns,
        until_ns=until_ns,
        limit=limit,
        offset=offset,
    )


def run(run_id: str) -> Call[RunOut]:
    """A run's state, with progress 0-100 and ETA while it runs."""
    return get(path("backtest", run_id), RunOut)


def cancel_run(run_id: str) -> Call[RunOut]:
    return post(path("backtest", run_id, "cancel"), RunOut)


def run_result(run_id: str) -> Call[RunResultOut]:
    return get(path("backtest", run_id, "result"), RunResultOut)


def run_fills(run_id: str, *, limit: int = 50, offset: int = 0) -> Call[Page[FillOut]]:
    return get(path("backtest", run_id, "fills"), Page[FillOut], limit=limit, offset=offset)


def run_positions(run_id: str, *, limit: int = 50, offset: int = 0) -> Call[Page[PositionOut]]:
    route = path("backtest", run_id, "positions")
    return get(route, Page[PositionOut], limit=limit, offset=offset)


def run_equity(run_id: str, *, limit: int = 50, offset: int = 0) -> Call[Page[EquityPoint]]:
    route = path("backtest", run_id, "equity")
    return get(route, Page[EquityPoint], limit=limit, offset=offset)


def download_run(
    run_id: str, artifact: Artifact, format: Literal["csv", "parquet"] = "csv"
) -> Call[bytes]:
    """A run's fills, positions or equity as a whole CSV or Parquet file."""
    route = path("backtest", run_id, artifact)
    return Call("GET", route, content, params={"format": format})


def run_report(run_id: str) -> Call[str]:
    """The run's self-contained HTML report."""
    return Call("GET", path("backtest", run_id, "report"), text)


def compare_runs(a: str, b: str) -> Call[RunComparison]:
    return get("/backtest/compare", RunComparison, a=a, b=b)


# jobs ------------------------------------------------------------------------------------


def jobs(
    *,
    kind: JobKind | None = None,
    state: JobState | None = None,
    submitted_by: str | None = None,
    subject: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Call[Page[JobOut]]:
    return get(
        "/jobs",
        Page[JobOut],
        kind=kind,
        state=state,
        submitted_by=submitted_by,
        subject=subject,
        limit=limit,
        offset=offset,
    )


def job(job_id: str) -> Call[JobOut]:
    return get(path("jobs", job_id), JobOut)


def cancel_job(job_id: str) -> Call[JobOut]:
    """Stop a pending or running job (409 ``job_state`` once it has finished)."""
    return post(path("jobs", job_id, "cancel"), JobOut)
