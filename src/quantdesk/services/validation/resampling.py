"""Resampling for Monte Carlo and significance: seeded, vectorised, deterministic.

- ``trade_order_bootstrap``: the closed trades' pnls drawn WITH replacement (a permutation
  would leave the final equity constant; only drawdowns would vary), ``samples`` sequences
  of the same length, equity ``start + cumsum``; percentiles of the final equity and of the
  maximum drawdown's size (``1 - min(equity / running peak)``, the start counted as a peak).
- ``daily_bootstrap``: the daily returns drawn with replacement, equity ``start * cumprod(1 +
  r)``; the same percentiles, and the fan: per day the 5/25/50/75/95th percentile of the
  paths' equity after that day (one value per return, in order).
- ``bootstrap_p_value``: one-sided p-value of the mean daily return under "no edge": the
  returns centred on 0 are resampled and ``p = (1 + #{mean* >= mean}) / (1 + samples)``.
- ``random_entry_returns``: per seed, a strategy with no information that trades like the
  candidate: holding times drawn from the candidate's (in bars), a random side per trade,
  flat gaps drawn uniformly from ``[0, 2 h (1 - exposure) / exposure]`` so that about
  ``exposure`` of the bars are in the market; its total return, fully invested, is the
  product over trades of ``1 + side (exit / entry - 1)`` minus 1.
Percentiles interpolate linearly (numpy's default). Every draw comes from
``numpy.random.default_rng(seed)``: the same seed gives the same numbers.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.validation.report import Percentiles
from quantdesk.services.columns import Float64Array

FAN_PERCENTILES = (5, 25, 50, 75, 95)
_CELLS_MAX = 50_000_000  # samples x length held at once (400 MB of float64)


@dataclass(frozen=True)
class Distribution:
    final_equity: Percentiles
    max_drawdown: Percentiles  # sizes: 0.12 is a 12% drawdown


@dataclass(frozen=True)
class DailyDistribution(Distribution):
    fan: dict[str, list[float]]  # "p5".."p95": equity after each day


def percentiles(values: Sequence[float] | Float64Array) -> Percentiles:
    array = np.asarray(values, dtype=np.float64)
    if array.shape[0] == 0:
        raise InvalidInputError("no values to take percentiles of", code="no_values")
    p = np.percentile(array, FAN_PERCENTILES)
    return Percentiles(p5=p[0], p25=p[1], p50=p[2], p75=p[3], p95=p[4])


def _drawdown_sizes(equity: Float64Array, start_equity: float) -> Float64Array:
    peaks = np.maximum(np.maximum.accumulate(equity, axis=1), start_equity)
    with np.errstate(divide="ignore", invalid="ignore"):
        worst = np.min(equity / peaks - 1.0, axis=1)
    return np.asarray(-np.minimum(worst, 0.0), np.float64)


def _check_size(samples: int, length: int) -> None:
    if samples < 1 or samples * max(length, 1) > _CELLS_MAX:
        raise InvalidInputError(
            f"{samples:,} samples of {length:,} steps exceed what a bootstrap may hold",
            code="bootstrap_too_large",
            data={"samples": samples, "length": length},
        )


def trade_order_bootstrap(
    pnls: Sequence[float], start_equity: float, samples: int, seed: int
) -> Distribution | None:
    """None without trades."""
    drawn = np.asarray(pnls, dtype=np.float64)
    if drawn.shape[0] == 0:
        return None
    _check_size(samples, drawn.shape[0])
    rng = np.random.default_rng(seed)
    draws = rng.choice(drawn, size=(samples, drawn.shape[0]))
    paths = np.asarray(start_equity + np.cumsum(draws, axis=1), np.float64)
    return Distribution(
        final_equity=percentiles(paths[:, -1]),
        max_drawdown=percentiles(_drawdown_sizes(paths, start_equity)),
    )


def daily_bootstrap(
    returns: Float64Array, start_equity: float, samples: int, seed: int
) -> DailyDistribution:
    r = np.asarray(returns, dtype=np.float64)
    if r.shape[0] < 2:
        raise InvalidInputError(
            "fewer than two daily returns: nothing to bootstrap", code="too_few_returns"
        )
    _check_size(samples, r.shape[0])
    rng = np.random.default_rng(seed)
    growth = 1.0 + rng.choice(r, size=(samples, r.shape[0]))
    paths = np.asarray(start_equity * np.cumprod(growth, axis=1), np.float64)
    bands = np.percentile(paths, FAN_PERCENTILES, axis=0)
    return DailyDistribution(
        final_equity=percentiles(paths[:, -1]),
        max_drawdown=percentiles(_drawdown_sizes(paths, start_equity)),
        fan={
            f"p{q}": [float(v) for v in band]
            for q, band in zip(FAN_PERCENTILES, bands, strict=True)
        },
    )


def bootstrap_p_value(returns: Float64Array, samples: int, seed: int) -> float:
    r = np.asarray(returns, dtype=np.float64)
    if r.shape[0] < 2:
        raise InvalidInputError("fewer than two daily returns: no p-value", code="too_few_returns")
    _check_size(samples, r.shape[0])
    rng = np.random.default_rng(seed)
    observed = float(r.mean())
    means = rng.choice(r - observed, size=(samples, r.shape[0])).mean(axis=1)
    return float((1 + np.count_nonzero(means >= observed)) / (1 + samples))


def buy_and_hold_return(closes: Float64Array) -> float:
    c = np.asarray(closes, dtype=np.float64)
    if c.shape[0] < 2 or not c[0] > 0:
        raise InvalidInputError(
            "buy-and-hold needs two closes and a positive first one", code="too_few_closes"
        )
    return float(c[-1] / c[0] - 1.0)


def random_entry_returns(
    closes: Float64Array,
    *,
    holding_bars: Sequence[int],
    exposure: float,
    seeds: int,
    seed: int,
) -> Float64Array:
    """Total return of each of ``seeds`` random-entry strategies (see the module's spec)."""
    c = np.asarray(closes, dtype=np.float64)
    holds = np.asarray([h for h in holding_bars if h >= 1], dtype=np.int64)
    if c.shape[0] < 2 or holds.shape[0] == 0 or seeds < 1:
        raise InvalidInputError(
            "random entries need two closes, a holding time of a bar or more and one seed",
            code="too_few_closes",
        )
    out = np.zeros(seeds, dtype=np.float64)
    if exposure <= 0:
        return out
    share = min(exposure, 1.0)
    n = c.shape[0] - 1  # bars a position can be held over
    most = n // int(holds.min()) + 1  # trades one path can hold at the most
    _check_size(seeds, most)
    rng = np.random.default_rng(seed)
    for k in range(seeds):
        held = rng.choice(holds, size=most)
        gap_max = np.floor(2.0 * held * (1.0 - share) / share).astype(np.int64)
        gaps = np.floor(rng.random(most) * (gap_max + 1)).astype(np.int64)
        sides = rng.choice(np.array([-1.0, 1.0]), size=most)
        entries = np.cumsum(gaps) + np.concatenate(([0], np.cumsum(held)[:-1]))
        exits = np.minimum(entries + held, n)
        taken = entries < n
        with np.errstate(divide="ignore", invalid="ignore"):  # a zero close: refused below
            growth = 1.0 + sides[taken] * (c[exits[taken]] / c[entries[taken]] - 1.0)
        out[k] = float(np.prod(growth) - 1.0) if growth.shape[0] else 0.0
    if not np.all(np.isfinite(out)):
        raise InvalidInputError("random entries gave a non-finite return", code="bad_closes")
    return out


__all__ = [
    "DailyDistribution",
    "Distribution",
    "bootstrap_p_value",
    "buy_and_hold_return",
    "daily_bootstrap",
    "percentiles",
    "random_entry_returns",
    "trade_order_bootstrap",
]
