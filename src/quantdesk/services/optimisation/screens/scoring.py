"""A grid point's estimated performance from its decisions: close-to-close, no fill model.

The position after a bar's decision earns the next bar's close change (the engine fills a
market order at the deciding bar's close by default, so this is its pnl before fees and
slippage). The curve goes through quantdesk's own ``compute_metrics`` so that the estimate
is measured like a real run (daily returns, annualisation, drawdown); trade statistics are
patched in from the round trips. It ranks a grid; the leaders are confirmed event-driven.
"""

from collections.abc import Sequence

import numpy as np

from quantdesk.domain.backtest import Metrics
from quantdesk.services.columns import Float64Array, Int64Array
from quantdesk.services.optimisation.screens.model import POSITION_AFTER, DecisionAction
from quantdesk.services.performance import EquityCurve, compute_metrics

Steps = Sequence[tuple[int, DecisionAction]]
"""(bar index, action) in bar order: what a family's replica decides."""


def position_series(steps: Steps, bars: int) -> Int64Array:
    """The position's sign after each bar's decision."""
    delta = np.zeros(bars, dtype=np.int64)
    held = 0
    for index, action in steps:
        after = POSITION_AFTER[action]
        delta[index] += after - held
        held = after
    result: Int64Array = np.cumsum(delta)
    return result


def score(
    steps: Steps,
    ts: Int64Array,
    closes: Float64Array,
    *,
    size: float,
    start_equity: float,
) -> Metrics | None:
    """Metrics of the close-to-close curve (None without bars)."""
    bars = int(closes.size)
    if bars == 0:
        return None
    held = position_series(steps, bars)
    earned = np.zeros(bars)
    earned[1:] = held[:-1] * np.diff(closes) * size
    equity: Float64Array = start_equity + np.cumsum(earned)
    curve = EquityCurve(ts_ns=ts, equity=equity, in_market=held != 0)
    metrics = compute_metrics(curve, [], [], start_equity)
    pnls, orders = _round_trips(steps, closes, size)
    wins, losses = pnls[pnls > 0], pnls[pnls < 0]
    mean_equity = float(equity.mean())
    return metrics.model_copy(
        update={
            "trade_count": len(pnls),
            "win_rate": len(wins) / len(pnls) if len(pnls) else None,
            "profit_factor": float(wins.sum()) / abs(float(losses.sum())) if len(losses) else None,
            "avg_win": float(wins.mean()) if len(wins) else None,
            "avg_loss": float(losses.mean()) if len(losses) else None,
            "expectancy": float(pnls.mean()) if len(pnls) else None,
            "turnover": orders / mean_equity if mean_equity else 0.0,
        }
    )


def _round_trips(steps: Steps, closes: Float64Array, size: float) -> tuple[Float64Array, float]:
    """Closed trades' pnl (entry close to exit close) and the traded notional."""
    pnls: list[float] = []
    notional = 0.0
    held, entry = 0, 0.0
    for index, action in steps:
        price = float(closes[index])
        after = POSITION_AFTER[action]
        if held != 0:
            pnls.append(held * (price - entry) * size)
            notional += price * size
        if after != 0:
            entry = price
            notional += price * size
        held = after
    return np.asarray(pnls, dtype=np.float64), notional
