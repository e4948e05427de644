"""Resampling: Monte Carlo paths, a bootstrap p-value and the baselines' returns.

All draws come from ``numpy.random.default_rng(seed)``: the same inputs and seed give the
same numbers. Percentiles are numpy's default (linear interpolation).

- Trade-order bootstrap: the closed trades' pnls drawn WITH replacement (``samples`` x
  trades), chained from the starting equity. A pure permutation would be no use for final
  equity (a sum does not depend on order: every path ends at the same equity), so other
  histories of the same trade distribution are drawn instead; their drawdowns show what the
  observed order hid.
- Daily bootstrap: the daily returns drawn with replacement, compounded from the starting
  equity. The fan is the p5..p95 equity per step (step i = after i+1 returns), thinned to
  at most ``fan_points`` steps when given (first and last kept; ``fan_steps`` names them).
- Max drawdown is reported as a positive size: ``max(1 - equity / running peak)`` with the
  starting equity as the first peak (0.25 = a quarter of the peak lost).
- Bootstrap p-value: the returns centred on 0 (the null: no edge) are resampled; the
  one-sided p-value is ``(1 + #{resampled mean >= observed mean}) / (1 + samples)``.
- Random entries: the same closes, ``k = max(1, round(exposure * n / mean(holding)))``
  trades per seed with holding times drawn from the strategy's own (in bars), placed at
  random without overlap (uniform gaps), long (or a random side each with
  ``sides="both"``; a short earns minus the long's log return). The total return per seed
  is ``exp(sum of side * log return held) - 1``: fully invested while in the market.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.validation.report import Percentiles
from quantdesk.services.columns import Float64Array

PERCENTILE_LEVELS = (5, 25, 50, 75, 95)
FAN_NAMES = tuple(f"p{q}" for q in PERCENTILE_LEVELS)

Values = Sequence[float] | Float64Array


@dataclass(frozen=True)
class TradeBootstrap:
    final_equity: Percentiles
    max_drawdown: Percentiles  # positive sizes


@dataclass(frozen=True)
class DailyBootstrap:
    final_equity: Percentiles
    max_drawdown: Percentiles  # positive sizes
    fan: dict[str, list[float]]  # "p5".."p95": equity at each of ``fan_steps``
    fan_steps: list[int]  # step i: the equity after returns 0..i


def _invalid(message: str, **data: int | float | str) -> InvalidInputError:
    return InvalidInputError(message, code="resampling", data=data)


def percentiles(values: Values) -> Percentiles:
    """p5, p25, p50, p75, p95 of at least one finite value."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        raise _invalid("no values to take percentiles of")
    p = np.percentile(v, PERCENTILE_LEVELS)
    return Percentiles(p5=p[0], p25=p[1], p50=p[2], p75=p[3], p95=p[4])


def max_drawdowns(paths: Float64Array, start_equity: float) -> Float64Array:
    """Positive max drawdown of each row of equity, the starting equity its first peak."""
    peaks = np.maximum(np.maximum.accumulate(paths, axis=1), start_equity)
    sizes: Float64Array = np.max(1.0 - paths / peaks, axis=1).clip(min=0.0)
    return sizes


def _check_draws(samples: int, start_equity: float) -> None:
    if samples < 1:
        raise _invalid(f"at least one sample is needed, got {samples}", samples=samples)
    if not start_equity > 0:
        raise _invalid("the starting equity must be positive", start_equity=start_equity)


def trade_order_bootstrap(
    pnls: Values, start_equity: float, samples: int, seed: int
) -> TradeBootstrap | None:
    """Final equity and max drawdown of trades drawn with replacement; None without trades."""
    _check_draws(samples, start_equity)
    p = np.asarray(pnls, dtype=np.float64)
    if p.size == 0:
        return None
    rng = np.random.default_rng(seed)
    drawn = p[rng.integers(0, p.size, size=(samples, p.size))]
    paths = start_equity + np.cumsum(drawn, axis=1)
    return TradeBootstrap(
        final_equity=percentiles(paths[:, -1]),
        max_drawdown=percentiles(max_drawdowns(paths, start_equity)),
    )


def fan_indices(steps: int, fan_points: int) -> list[int]:
    """At most ``fan_points`` (>= 2) increasing steps of ``range(steps)``, ends included."""
    if steps <= fan_points:
        return list(range(steps))
    picked = np.unique(np.round(np.linspace(0, steps - 1, max(2, fan_points))).astype(np.int64))
    return [int(i) for i in picked]


def daily_bootstrap(
    returns: Values, start_equity: float, samples: int, seed: int, fan_points: int | None = None
) -> DailyBootstrap:
    """Compounded bootstrap paths of the daily returns: percentiles and the fan (every step
    when ``fan_points`` is None, so the fan zips with the days' timestamps)."""
    _check_draws(samples, start_equity)
    r = np.asarray(returns, dtype=np.float64)
    if r.size == 0:
        raise _invalid("no daily returns to bootstrap")
    rng = np.random.default_rng(seed)
    drawn = r[rng.integers(0, r.size, size=(samples, r.size))]
    paths = (start_equity * np.cumprod(1.0 + drawn, axis=1)).astype(np.float64)
    steps = list(range(r.size)) if fan_points is None else fan_indices(r.size, fan_points)
    bands = np.percentile(paths[:, steps], PERCENTILE_LEVELS, axis=0)
    return DailyBootstrap(
        final_equity=percentiles(paths[:, -1]),
        max_drawdown=percentiles(max_drawdowns(paths, start_equity)),
        fan={name: [float(x) for x in band] for name, band in zip(FAN_NAMES, bands, strict=True)},
        fan_steps=steps,
    )


def bootstrap_p_value(daily_returns: Values, samples: int, seed: int) -> float:
    """One-sided p-value of the mean return being > 0, by a centred bootstrap."""
    r = np.asarray(daily_returns, dtype=np.float64)
    if r.size < 2 or samples < 1:
        raise _invalid("a bootstrap p-value needs >= 2 returns and >= 1 sample", n=int(r.size))
    observed = float(np.mean(r))
    centred = r - observed
    rng = np.random.default_rng(seed)
    means = centred[rng.integers(0, r.size, size=(samples, r.size))].mean(axis=1)
    # a tolerance so that float residue of the centring does not decide a tie
    at_or_above = int(np.count_nonzero(means >= observed - 1e-15 * max(1.0, abs(observed))))
    return (1 + at_or_above) / (1 + samples)


def buy_and_hold_return(closes: Values) -> float:
    """Total return of holding from the first close to the last."""
    c = np.asarray(closes, dtype=np.float64)
    if c.size < 2 or not c[0] > 0:
        raise _invalid("buy-and-hold needs >= 2 closes, the first positive", n=int(c.size))
    return float(c[-1] / c[0] - 1.0)


def random_entry_returns(
    closes: Values,
    *,
    holding_bars: Sequence[int],
    exposure: float | None,
    seeds: int,
    seed: int,
    sides: Literal["long", "both"] = "long",
) -> Float64Array:
    """Total return per seed of random entries with the strategy's holding times.

    ``exposure`` is the fraction of bars in the market (None: the holding times' share of
    one trade each, i.e. the minimum); holding times longer than the data are capped.
    """
    c = np.asarray(closes, dtype=np.float64)
    if c.size < 2 or np.any(c <= 0):
        raise _invalid("random entries need >= 2 positive closes", n=int(c.size))
    if not holding_bars or min(holding_bars) < 1 or seeds < 1:
        raise _invalid("random entries need holding times >= 1 bar and >= 1 seed", seeds=seeds)
    n = c.size - 1  # bar returns: j from close j to close j + 1
    holds_pool = np.minimum(np.asarray(holding_bars, dtype=np.int64), n)
    share = 0.0 if exposure is None or not math.isfinite(exposure) else min(max(exposure, 0), 1)
    k = max(1, round(share * n / float(np.mean(holds_pool))))
    rng = np.random.default_rng(seed)
    holds = holds_pool[rng.integers(0, holds_pool.size, size=(seeds, k))]
    held_before = np.cumsum(holds, axis=1) - holds  # bars held by earlier trades
    free = np.maximum(n - holds.sum(axis=1), 0)
    cuts = np.sort(rng.integers(0, free[:, None] + 1, size=(seeds, k)), axis=1)
    entry = np.minimum(cuts + held_before, n)
    exit_ = np.minimum(entry + holds, n)
    if sides == "both":
        side = rng.choice(np.array([-1.0, 1.0]), size=(seeds, k))
    else:
        side = np.ones((seeds, k))
    cum = np.concatenate(([0.0], np.cumsum(np.diff(np.log(c)))))
    total: Float64Array = np.expm1((side * (cum[exit_] - cum[entry])).sum(axis=1))
    return total
