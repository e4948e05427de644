"""Coarser time bars from 1-minute bars: what ``data synth`` writes beside its 1-minute market.

A bar of ``N`` minutes closes on a multiple of ``N`` minutes since the epoch (the engine's own
time-bar alignment, ts = bar close) and holds the 1-minute bars that close in
``(close - N minutes, close]``: open of the first, high max, low min, close of the last,
volume summed. Only complete buckets become bars (a partial first or last bucket would claim
prices it never saw), so the result is exact and the same input always gives the same bytes.
"""

import numpy as np

from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.market_data import BarSpec
from quantdesk.services.columns import BarColumns

MINUTE_NS = 60_000_000_000
BASE_BAR_SPEC = BarSpec(step=1, aggregation="MINUTE", price_type="LAST")


def check_aggregatable(spec: BarSpec) -> int:
    """The bar's length in minutes, or a clear error when 1-minute LAST bars cannot make it."""
    interval = spec.interval_ns
    if interval is None or spec.aggregation not in ("MINUTE", "HOUR", "DAY"):
        raise InvalidInputError(
            f"bar spec {spec} cannot be built from 1-minute bars: only MINUTE, HOUR and DAY "
            "bars can",
            hint="e.g. 5-MINUTE-LAST or 1-HOUR-LAST",
        )
    if spec.price_type != "LAST":
        raise InvalidInputError(
            f"bar spec {spec}: the synthetic market trades LAST prices only, not {spec.price_type}",
            hint=f"use {spec.step}-{spec.aggregation}-LAST",
        )
    return interval // MINUTE_NS


def aggregate_minute_bars(bars: BarColumns, spec: BarSpec) -> BarColumns:
    """``bars`` (1-minute, ts = close, ascending, no duplicates) as ``spec`` bars."""
    minutes = check_aggregatable(spec)
    if minutes == 1 or len(bars) == 0:
        return bars
    ts = bars.ts_ns
    if np.any(ts % MINUTE_NS != 0) or np.any(np.diff(ts) <= 0):
        raise InvalidInputError("1-minute bars must close on whole minutes, in ascending order")
    interval = minutes * MINUTE_NS
    bucket = (ts - 1) // interval  # the bar closing at (bucket + 1) * interval holds this one
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    counts = np.diff(np.r_[starts, len(bars)])
    complete = counts == minutes  # a full bucket of strictly increasing minutes has no gap
    ends = starts + counts - 1
    return BarColumns(
        ts_ns=((bucket[starts[complete]] + 1) * interval).astype(np.int64),
        open=bars.open[starts[complete]],
        high=np.maximum.reduceat(bars.high, starts)[complete],
        low=np.minimum.reduceat(bars.low, starts)[complete],
        close=bars.close[ends[complete]],
        volume=np.add.reduceat(bars.volume, starts)[complete],
    )
