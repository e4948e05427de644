"""Run strategy configs on a desk directly, below the registry (for tests of the strategies).

Families are tested here on their own configs before (and beside) the registry path: the
harness keeps one signature while the backtest request moves to registry references, so a
family's tests need not change when the request does.
"""

from collections.abc import Sequence
from typing import Any

from quantdesk.domain.backtest import BacktestRequest, BacktestResult, StrategySpec
from quantdesk.services.platform import Platform


def family_spec(module: str, cls: str, config: dict[str, Any]) -> StrategySpec:
    """``quantdesk.strategies.{module}:{cls}`` with ``{cls}Config``."""
    path = f"quantdesk.strategies.{module}"
    return StrategySpec(
        strategy_path=f"{path}:{cls}", config_path=f"{path}:{cls}Config", config=config
    )


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
    request = BacktestRequest.model_validate(
        {
            "strategies": [s.model_dump() for s in specs],
            "instruments": list(instruments),
            "bar_spec": bar_spec,
            "start_ns": start_ns,
            "end_ns": end_ns,
            "venues": list(venues),
            "risk": risk or {},
            "signals": signals,
            "seed": seed,
            "engine": {"log_level": "OFF"},
        }
    )
    return desk.backtests.run(request)
