"""The close series as the engine's indicators see it, and its moving averages, bit for bit.

A screen's decisions must equal the engine's, so every number it compares must be the very
double the strategy compares. Three facts of NautilusTrader 1.221.0 make that possible:

- a bar's ``close.as_double()`` is ``raw / 1e16`` with ``raw`` the 128-bit fixed-point value
  (value x 10^16): the double of ``ticks * 10^(16 - p)`` (p the price precision) divided by
  1e16, which is not always the catalog's float (the nearest double to the decimal);
- its ``ExponentialMovingAverage`` starts at the first input and then runs
  ``alpha * x + (1 - alpha) * value`` (alpha = 2 / (period + 1)) from that same first input,
  initialised after ``period`` inputs;
- its ``SimpleMovingAverage`` is ``fast_mean`` of the last ``period`` inputs: a left-to-right
  sum from 0.0 divided by the count (numpy's pairwise ``sum`` would round differently).

The recursive EMA is a plain Python accumulation (~15 ms per 200,000 bars); averages are
cached per (kind, period) so a grid pays each once.
"""

from itertools import accumulate

import numpy as np

from quantdesk.services.columns import Float64Array, Int64Array

FIXED_PRECISION = 16  # the engine's fixed-point decimals (high-precision build)
PRECISION_MAX = 9


def price_precision(closes: Float64Array) -> int:
    """The fewest decimals that hold every close exactly (the catalog's floats are the
    nearest doubles to decimals of the instrument's precision)."""
    for precision in range(PRECISION_MAX + 1):
        scale = 10.0**precision
        if bool(np.all(np.round(closes * scale) / scale == closes)):
            return precision
    return PRECISION_MAX


def ticks_of(closes: Float64Array, precision: int) -> Int64Array:
    """Closes in whole units of the last decimal (exact integers)."""
    ticks: Int64Array = np.round(closes * 10.0**precision).astype(np.int64)
    return ticks


def engine_closes(closes: Float64Array, precision: int) -> Float64Array:
    """``bar.close.as_double()`` for each close: double(ticks * 10^(16-p)) / 1e16.

    The product of two exact doubles rounds once, like the engine's 128-bit integer to
    double conversion, so this equals the engine's value whenever ticks < 2^53.
    """
    raw = ticks_of(closes, precision).astype(np.float64) * 10.0 ** (FIXED_PRECISION - precision)
    result: Float64Array = raw / 10.0**FIXED_PRECISION
    return result


def ema(values: Float64Array, period: int) -> Float64Array:
    """NautilusTrader's EMA after each input (defined from the first; warm after ``period``)."""
    if values.size == 0:
        return np.empty(0, dtype=np.float64)
    alpha = 2.0 / (period + 1.0)
    keep = 1.0 - alpha
    xs: list[float] = values.tolist()
    first = alpha * xs[0] + keep * xs[0]
    series = accumulate(xs[1:], lambda value, x: alpha * x + keep * value, initial=first)
    result: Float64Array = np.fromiter(series, dtype=np.float64, count=len(xs))
    return result


def sma(values: Float64Array, period: int) -> Float64Array:
    """NautilusTrader's SMA once warm (index >= period - 1; NaN before): sequential sums."""
    n = values.size
    result: Float64Array = np.full(n, np.nan)
    if n < period:
        return result
    total = np.zeros(n - period + 1)
    for k in range(period):  # 0.0 + x[i-p+1] + ... + x[i], in that order, for every i at once
        total += values[k : n - period + 1 + k]
    result[period - 1 :] = total / float(period)
    return result


class Averages:
    """Moving averages of one close series, each computed once."""

    def __init__(self, values: Float64Array) -> None:
        self._values = values
        self._cache: dict[tuple[str, int], Float64Array] = {}

    def of(self, kind: str, period: int) -> Float64Array:
        key = (kind, period)
        found = self._cache.get(key)
        if found is None:
            found = ema(self._values, period) if kind == "ema" else sma(self._values, period)
            self._cache[key] = found
        return found
