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
from quantdesk.services.optimisation.screens.model import DecisionAction, action_between
from quantdesk.services.performance import EquityCurve, compute_metrics

Steps = tuple[Int64Array, Int64Array]
"""What a family's replica decides: the bars of its decisions (increasing, one per bar) and
the position's sign after each."""

NO_STEPS: Steps = (np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64))


def steps_of(pairs: Sequence[tuple[int, int]]) -> Steps:
    """Steps from (bar, position after) pairs."""
    if not pairs:
        return NO_STEPS
    table = np.asarray(pairs, dtype=np.int64)
    return table[:, 0].copy(), table[:, 1].copy()


def actions(steps: Steps) -> list[DecisionAction]:
    """Each step's action (from the position before it to the one after)."""
    _, after = steps
    before = np.concatenate(([0], after[:-1]))[: after.size]
    return [action_between(b, a) for b, a in zip(before.tolist(), after.tolist(), strict=True)]


def position_series(steps: Steps, bars: int) -> Int64Array:
    """The position's sign after each bar's decision."""
    index, after = steps
    delta = np.zeros(bars, dtype=np.int64)
    delta[index] = np.diff(after, prepend=0)
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
    pnls, notional = _round_trips(steps, closes, size)
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
            "turnover": notional / mean_equity if mean_equity else 0.0,
        }
    )


def _round_trips(steps: Steps, closes: Float64Array, size: float) -> tuple[Float64Array, float]:
    """Closed trades' pnl (entry close to exit close, in closing order) and the notional
    traded: a step with a position before it closes the trade the previous step opened."""
    index, after = steps
    if index.size == 0:
        return np.empty(0, dtype=np.float64), 0.0
    before = np.concatenate(([0], after[:-1]))
    price = closes[index]
    entry = np.concatenate(([0.0], price[:-1]))
    closing = before != 0
    pnls: Float64Array = (before * (price - entry) * size)[closing]
    legs = closing.astype(np.float64) + (after != 0)
    return pnls, float((price * size * legs).sum())
