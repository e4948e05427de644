"""TESTS ONLY: run strategy configs on a desk directly, below the registry.

Families are tested here on their own configs before (and beside) the registry path; the
tests' own probe strategies run here too. Requests name registry references only; this
harness builds the :class:`RunPlan` a prepared request would have, from raw specs, and runs
it through ``BacktestService.run_plan`` (the same catalog checks, engine and analysis). It
keeps one signature while the request moved to references, so those tests need not change.
"""

import re
from collections.abc import Sequence
from typing import Any

from quantdesk.domain.backtest import BacktestRequest, BacktestResult, StrategySpec
from quantdesk.domain.backtest_checks import check_strategies, strategy_identity
from quantdesk.domain.backtest_plan import PlannedStrategy, RunPlan
from quantdesk.domain.market_data import BarSpec, bar_type_id
from quantdesk.domain.risk import RiskConfig
from quantdesk.services.platform import Platform


def family_spec(module: str, cls: str, config: dict[str, Any]) -> StrategySpec:
    """``quantdesk.strategies.{module}:{cls}`` with ``{cls}Config``."""
    path = f"quantdesk.strategies.{module}"
    return StrategySpec(
        strategy_path=f"{path}:{cls}", config_path=f"{path}:{cls}Config", config=config
    )


def raw_plan(
    specs: Sequence[StrategySpec],
    *,
    instruments: Sequence[str],
    bar_spec: str = "1-MINUTE-LAST",
    risk: RiskConfig | dict[str, Any] | None = None,
    **fields: Any,
) -> RunPlan:
    """The plan of ``specs`` over ``instruments``' ``bar_spec`` bars; ``fields`` are the
    request's other fields (start_ns, venues, seed, signals, engine, ...). Risk constraints
    are keyed by the engine's strategy ids (``Class-TAG``), as the runner sees them."""
    check_strategies([(s.strategy_path, s.config) for s in specs], list(instruments))
    spec = BarSpec.parse(bar_spec)
    bar_types = tuple(bar_type_id(i, spec) for i in instruments)
    full_risk = risk if isinstance(risk, RiskConfig) else RiskConfig.model_validate(risk or {})
    ids = [strategy_identity(s.strategy_path, s.config) for s in specs]
    refs = [_slug(i) for i in ids]
    request = BacktestRequest.model_validate(
        {
            **fields,
            "strategies": refs,
            "risk": full_risk.model_copy(update={"constraints": {}}),
        }
    )
    strategies = tuple(
        PlannedStrategy(
            ref=ref,
            content_hash="",
            nautilus_id=nautilus_id,
            family="raw",
            spec=s,
            instruments=tuple(instruments),
            bar_types=bar_types,
            signal_types=tuple(s.config.get("signal_types", ())),
        )
        for ref, nautilus_id, s in zip(refs, ids, specs, strict=True)
    )
    return RunPlan(request=request, strategies=strategies, risk=full_risk)


def run_specs(
    desk: Platform,
    specs: Sequence[StrategySpec],
    *,
    instruments: Sequence[str],
    bar_spec: str = "1-MINUTE-LAST",
    start_ns: int | None = None,
    end_ns: int | None = None,
    venues: Sequence[dict[str, Any]] = (),
    risk: dict[str, Any] | None = None,
    signals: str | list[str] = "none",
    seed: int = 0,
) -> BacktestResult:
    """One run of ``specs`` over ``instruments``' ``bar_spec`` bars (the whole catalog range
    unless bounded), engine logging off."""
    plan = raw_plan(
        specs,
        instruments=instruments,
        bar_spec=bar_spec,
        start_ns=start_ns,
        end_ns=end_ns,
        venues=list(venues),
        risk=risk,
        signals=signals,
        seed=seed,
        engine={"log_level": "OFF"},
    )
    return desk.backtests.run_plan(plan)


EMA_CROSS = "quantdesk.strategies.ema_cross"


def ema_specs(
    instruments: Sequence[str],
    bar_spec: str = "1-MINUTE-LAST",
    params: dict[str, Any] | None = None,
) -> list[StrategySpec]:
    """The EMA cross, one strategy per instrument (``EmaCross-SYMBOL``), as the old built-in
    ``ema_cross`` made them: for tests of the runner and the analysis below the registry."""
    spec = BarSpec.parse(bar_spec)
    return [
        StrategySpec(
            strategy_path=f"{EMA_CROSS}:EmaCross",
            config_path=f"{EMA_CROSS}:EmaCrossConfig",
            config={
                "instrument_id": instrument_id,
                "bar_type": bar_type_id(instrument_id, spec),
                "order_id_tag": _tag(instrument_id),
                **(params or {}),
            },
        )
        for instrument_id in instruments
    ]


def _tag(instrument_id: str) -> str:
    return "".join(ch for ch in instrument_id.rsplit(".", 1)[0] if ch.isalnum()) or "X"


def _slug(nautilus_id: str) -> str:
    """A reference-shaped name for a raw strategy (the request holds references only)."""
    return re.sub(r"[^a-z0-9_-]", "-", nautilus_id.lower()).strip("-")[:63] or "raw"


def updated(plan: RunPlan, **fields: Any) -> RunPlan:
    """The plan with some request fields changed (start_ns, engine, venues, risk, ...);
    ``strategies`` takes specs (the plan is rebuilt from them)."""
    risk = fields.pop("risk", plan.risk)
    if isinstance(risk, dict):
        risk = RiskConfig.model_validate(risk)
    specs = fields.pop("strategies", None)
    if specs is not None:
        fresh = raw_plan(specs, instruments=list(plan.instruments), risk=risk)
        plan = RunPlan(request=plan.request, strategies=fresh.strategies, risk=risk)
        fields["strategies"] = fresh.request.strategies
    request = plan.request.model_copy(
        update={**fields, "risk": risk.model_copy(update={"constraints": {}})}
    )
    return RunPlan(request=request, strategies=plan.strategies, risk=risk)
