"""Stress transforms: what each data scenario does to one bar type's columns (pure numpy).

The specification, bar by bar (``i0`` is the first bar whose close time is at or after the
shock's time; a shock past the last bar changes nothing):

- ``gap_down(at_ns, fraction)``: every price of every bar from ``i0`` on is multiplied by
  ``1 - fraction`` (open included), so the market opens ``fraction`` below where it closed
  and never comes back: a sudden gap (overnight news, a halted stock reopening).
- ``flash_crash(at_ns, depth, fall_bars, recovery_bars)``: the closes of bars ``i0 ..
  i0 + fall_bars - 1`` fall geometrically to ``1 - depth`` of their own level, the next
  ``recovery_bars`` closes climb back geometrically, and from then on the data is the
  original. A bar's open follows the previous bar's close factor, its high the larger and its
  low the smaller of the two, so every bar stays a valid bar (6 May 2010 in miniature).
- ``volatility_scaled(factor)``: the close-to-close log returns ``r`` are replaced by
  ``mean(r) + factor * (r - mean(r))`` and chained from the first close (which is kept);
  within a bar every price keeps its place relative to the close with its log distance
  scaled by ``factor`` (so the bar's range widens alike and high >= open, close >= low
  holds). The realised volatility of the closes is exactly ``factor`` times the original's;
  the drift is kept.
- ``feed_outage(start_ns, end_ns)``: the bars with ``start_ns <= ts <= end_ns`` are removed
  (a data feed that went silent: no marks, no signals, no fills in the gap).

Volumes are never changed. Transforms work in floats; the scratch catalog rounds prices to
the instrument's tick and restores OHLC consistency before writing (``conform_bars``).
"""

import math

import numpy as np

from quantdesk.services.columns import BarColumns, Float64Array
from quantdesk.services.ports.scratch import BarTransform


def _first_at(bars: BarColumns, at_ns: int) -> int:
    return int(np.searchsorted(bars.ts_ns, at_ns, side="left"))


def scale_bars(
    bars: BarColumns, open_factor: Float64Array, close_factor: Float64Array
) -> BarColumns:
    """Each bar's open times its open factor, close times its close factor, high times the
    larger and low times the smaller of the two (positive factors keep the bar valid)."""
    high_factor = np.maximum(open_factor, close_factor)
    low_factor = np.minimum(open_factor, close_factor)
    return BarColumns(
        ts_ns=bars.ts_ns.copy(),
        open=bars.open * open_factor,
        high=bars.high * high_factor,
        low=bars.low * low_factor,
        close=bars.close * close_factor,
        volume=bars.volume.copy(),
    )


def gap_down(at_ns: int, fraction: float = 0.2) -> BarTransform:
    """Prices from the first bar at or after ``at_ns`` on scaled by ``1 - fraction``."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"a gap of {fraction} is not a fraction in (0, 1)")

    def transform(bars: BarColumns) -> BarColumns:
        factor = np.ones(len(bars), dtype=np.float64)
        factor[_first_at(bars, at_ns) :] = 1.0 - fraction
        return scale_bars(bars, factor, factor)

    return transform


def crash_factors(
    n: int, i0: int, depth: float, fall_bars: int, recovery_bars: int
) -> Float64Array:
    """The close factors of a flash crash: 1, then ``fall_bars`` geometric steps down to
    ``1 - depth``, ``recovery_bars`` steps back up to 1, then 1."""
    factor = np.ones(n, dtype=np.float64)
    bottom = math.log1p(-depth)
    fall = bottom * np.arange(1, fall_bars + 1) / fall_bars
    rise = bottom * (1.0 - np.arange(1, recovery_bars + 1) / recovery_bars)
    path = np.exp(np.concatenate([fall, rise]))
    end = min(n, i0 + path.shape[0])
    if i0 < end:
        factor[i0:end] = path[: end - i0]
    return factor


def flash_crash(
    at_ns: int, depth: float = 0.10, fall_bars: int = 5, recovery_bars: int = 30
) -> BarTransform:
    """A fall of ``depth`` over ``fall_bars`` bars from ``at_ns``, recovered over
    ``recovery_bars`` bars."""
    if not 0.0 < depth < 1.0:
        raise ValueError(f"a crash of {depth} is not a fraction in (0, 1)")
    if fall_bars < 1 or recovery_bars < 1:
        raise ValueError("a flash crash falls and recovers over at least one bar each")

    def transform(bars: BarColumns) -> BarColumns:
        n = len(bars)
        close_factor = crash_factors(n, _first_at(bars, at_ns), depth, fall_bars, recovery_bars)
        open_factor = np.concatenate([[1.0], close_factor[:-1]]) if n else close_factor
        return scale_bars(bars, open_factor, close_factor)

    return transform


def volatility_scaled(factor: float = 3.0) -> BarTransform:
    """Log returns around their mean scaled by ``factor``, anchored at the first close."""
    if not factor > 0.0:
        raise ValueError(f"a volatility factor of {factor} is not positive")

    def transform(bars: BarColumns) -> BarColumns:
        if len(bars) == 0:
            return bars
        level = np.log(bars.close)
        returns = np.diff(level)
        mean = float(returns.mean()) if returns.size else 0.0
        scaled = mean + factor * (returns - mean)
        path = np.concatenate([[0.0], np.cumsum(scaled)])
        new_level = level[0] + path

        def move(prices: Float64Array) -> Float64Array:
            moved: Float64Array = np.exp(new_level + factor * (np.log(prices) - level))
            return moved

        return BarColumns(
            ts_ns=bars.ts_ns.copy(),
            open=move(bars.open),
            high=move(bars.high),
            low=move(bars.low),
            close=bars.close[0] * np.exp(path),  # the first close kept exactly
            volume=bars.volume.copy(),
        )

    return transform


def feed_outage(start_ns: int, end_ns: int) -> BarTransform:
    """The bars with ``start_ns <= ts <= end_ns`` removed."""
    if end_ns < start_ns:
        raise ValueError("an outage ends before it starts")

    def transform(bars: BarColumns) -> BarColumns:
        return bars.take((bars.ts_ns < start_ns) | (bars.ts_ns > end_ns))

    return transform


def conform_bars(bars: BarColumns, tick: float, digits: int, price_max: float) -> BarColumns:
    """Prices on the instrument's tick (open/close nearest, high up, low down), at least one
    tick and at most ``price_max``, with ``high >= max(open, close)`` and ``low <=
    min(open, close)``; rows with a non-finite price dropped."""
    finite = np.ones(len(bars), dtype=np.bool_)
    for column in (bars.open, bars.high, bars.low, bars.close):
        finite &= np.isfinite(column)
    if not bool(finite.all()):
        bars = bars.take(finite)

    def snap(values: Float64Array, mode: str) -> Float64Array:
        ticks = np.round(values / tick, 6)  # 100.00000001 ticks is 100, not 101 rounded up
        whole = np.ceil(ticks) if mode == "up" else np.floor(ticks) if mode == "down" else None
        snapped: Float64Array = np.round(
            (np.round(ticks) if whole is None else whole) * tick, digits
        )
        return np.clip(snapped, tick, price_max)

    open_ = snap(bars.open, "nearest")
    close = snap(bars.close, "nearest")
    high = np.maximum(snap(bars.high, "up"), np.maximum(open_, close))
    low = np.minimum(snap(bars.low, "down"), np.minimum(open_, close))
    return BarColumns(
        ts_ns=bars.ts_ns, open=open_, high=high, low=low, close=close, volume=bars.volume
    )
