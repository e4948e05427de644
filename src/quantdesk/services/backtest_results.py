"""A run's result from what the engine recorded: every figure computed by quantdesk from the
fills, positions and the catalog's closes (never taken from the engine's own statistics)."""

import time
from collections import Counter
from dataclasses import dataclass

import quantdesk
from quantdesk.domain.audit import AuditAnchor
from quantdesk.domain.backtest import (
    BacktestResult,
    DataUsed,
    EngineFacts,
    RunStatus,
    SignalDataUsed,
)
from quantdesk.domain.backtest_plan import RunPlan
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.expiry import settlements_of
from quantdesk.domain.market_data import BarSpec
from quantdesk.domain.market_feeds import feed_bar_type
from quantdesk.domain.rolls import rolls_of
from quantdesk.services.columns import BarColumns, Float64Array, Int64Array
from quantdesk.services.execution import (
    check_not_all_refused,
    execution_summary,
    refusal_warnings,
)
from quantdesk.services.execution_quality import run_execution_quality
from quantdesk.services.fx_rates import check_one_base_currency, run_valuation
from quantdesk.services.performance import attribute, build_equity_curve, compute_metrics
from quantdesk.services.ports import EngineRun, MarketDataCatalog, RunArtifacts
from quantdesk.services.signal_provenance import build_provenance


@dataclass(frozen=True)
class RunInputs:
    """What a run was prepared with: its id, pinned plan, data, and when it started."""

    run_id: str
    plan: RunPlan
    data: list[DataUsed]
    signal_data: list[SignalDataUsed]
    fingerprint: str
    audit_head: AuditAnchor | None
    started_ns: int


def analyse(
    inputs: RunInputs, engine_run: EngineRun, catalog: MarketDataCatalog, engine_version: str
) -> tuple[BacktestResult, RunArtifacts]:
    """The result and its artifacts (equity curve, closes) of a finished engine run; a run
    whose every order the engine refused is failed here (``InvalidInputError``)."""
    plan = inputs.plan
    pinned = plan.request
    assert pinned.start_ns is not None and pinned.end_ns is not None
    start_ns, end_ns = pinned.start_ns, pinned.end_ns
    execution = execution_summary(engine_run.fills)
    accepted = engine_run.orders_accepted
    check_not_all_refused(
        engine_run.engine_rejections,
        execution.orders_filled if accepted is None else max(accepted, execution.orders_filled),
    )
    # Read only now, into the memory the engine has just handed back: read before the run,
    # they would sit on top of the engine's own peak.
    built = engine_run.built_bars  # bars the engine made from ticks: marked by them
    check_built(built)
    prices: dict[str, tuple[Int64Array, Float64Array]] = {
        instrument_id: (built[bar_type].ts_ns, built[bar_type].close)
        if bar_type in built
        else catalog.read_closes(bar_type, start_ns, end_ns)
        for instrument_id, bar_type in plan.marks.items()
    }
    starting_equity = starting_equity_of(plan)
    valuation, conversions, rate_warnings = run_valuation(plan, catalog, engine_run.fills)
    curve = build_equity_curve(engine_run.fills, prices, starting_equity, valuation)
    metrics = compute_metrics(
        curve, engine_run.positions, engine_run.fills, starting_equity, valuation
    )
    attribution = attribute(
        engine_run.fills,
        engine_run.positions,
        prices,
        starting_equity,
        run=(curve, metrics),
        valuation=valuation,
    )
    execution_quality = run_execution_quality(
        ((s.nautilus_id, s.spec) for s in plan.strategies),
        engine_run.fills,
        lambda instrument_id, bar_spec, market_data: (
            built[bar_type]
            if (bar_type := feed_bar_type(instrument_id, BarSpec.parse(bar_spec), market_data))
            in built
            else catalog.read_bars(bar_type, start_ns, end_ns)
        ),
    )
    total_bars = sum(d.bars for d in inputs.data if d.is_bars and d.is_streamed)
    total_ticks = sum(d.bars for d in inputs.data if not d.is_bars)
    wall = engine_run.wall_seconds
    facts = EngineFacts(
        nautilus_trader_version=engine_version,
        quantdesk_version=quantdesk.__version__,
        bars=total_bars,
        ticks=total_ticks,
        ticks_per_second=total_ticks / wall if wall > 0 else 0.0,
        events_processed=engine_run.events_processed,
        orders=engine_run.orders,
        fills=len(engine_run.fills),
        positions_closed=len(engine_run.positions),
        wall_seconds=engine_run.wall_seconds,
        bars_per_second=total_bars / engine_run.wall_seconds
        if engine_run.wall_seconds > 0
        else 0.0,
    )
    result = BacktestResult(
        run_id=inputs.run_id,
        status=RunStatus.COMPLETED,
        fingerprint=inputs.fingerprint,
        request=pinned,
        strategies=plan.records,
        instruments=list(plan.instruments),
        started_at_ns=inputs.started_ns,
        finished_at_ns=time.time_ns(),
        data=inputs.data,
        metrics=metrics,
        attribution=attribution,
        facts=facts,
        risk_events=engine_run.risk_events,
        risk_counts=dict(sorted(Counter(e.rule for e in engine_run.risk_events).items())),
        signal_data=inputs.signal_data,
        provenance=build_provenance(
            engine_run.signal_uses,
            engine_run.signal_decisions,
            engine_run.fills,
            inputs.signal_data,
        )
        if pinned.replays_signals
        else None,
        engine_rejections=engine_run.engine_rejections,
        execution=execution,
        execution_quality=execution_quality,
        audit_head=inputs.audit_head,
        warnings=refusal_warnings(engine_run.engine_rejections, execution.orders_filled)
        + rate_warnings,
        conversions=conversions,
        settlements=settlements_of(engine_run.fills, engine_run.positions),
        rolls=rolls_of(engine_run.fills),
    )
    artifacts = RunArtifacts(
        fills=engine_run.fills, positions=engine_run.positions, curve=curve, prices=prices
    )
    return result, artifacts


def check_built(built: dict[str, BarColumns]) -> None:
    """Bars to be built from ticks that never were: their strategies saw no bar to decide
    on, and there is nothing to mark positions with."""
    missing = [bar_type for bar_type, bars in sorted(built.items()) if len(bars) == 0]
    if missing:
        raise InvalidInputError(
            f"the engine built no {', '.join(missing)} bars from the run's data: its "
            "strategies saw no bar",
            hint="book deltas make bars only with an F_LAST flag on each event's last delta; "
            "ticks make tick bars only when there are at least that many",
        )


def starting_equity_of(plan: RunPlan) -> float:
    """The venues' starting balances, in their one base currency (checked before the run)."""
    check_one_base_currency(plan)
    return plan.starting_equity
