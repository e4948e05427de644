"""Stress transforms make the shapes their specification names, on plain arrays."""

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.services.columns import BarColumns
from quantdesk.services.validation.stress_transforms import (
    conform_bars,
    feed_outage,
    flash_crash,
    gap_down,
    volatility_scaled,
)

MINUTE = 60_000_000_000
T0 = 1_704_067_200_000_000_000


def market(n: int = 600, seed: int = 1, start: float = 100.0) -> BarColumns:
    """A random walk whose opens are the previous closes, with wicks."""
    rng = np.random.default_rng(seed)
    closes = start * np.exp(np.cumsum(rng.normal(0.0, 1e-3, n + 1)))
    open_, close = closes[:-1], closes[1:]
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 5e-4, n)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 5e-4, n)))
    ts = T0 + MINUTE * np.arange(1, n + 1, dtype=np.int64)
    volume = np.round(rng.uniform(100, 1000, n))
    return BarColumns(ts_ns=ts, open=open_, high=high, low=low, close=close, volume=volume)


def valid(bars: BarColumns) -> bool:
    top = np.maximum(bars.open, bars.close)
    bottom = np.minimum(bars.open, bars.close)
    return bool(
        np.all(bars.high >= top - 1e-12)
        and np.all(bars.low <= bottom + 1e-12)
        and np.all(bars.low > 0)
    )


def test_gap_down_opens_twenty_percent_below_and_stays() -> None:
    bars = market()
    at = int(bars.ts_ns[300])
    out = gap_down(at, 0.2)(bars)
    assert np.array_equal(out.close[:300], bars.close[:300])
    assert math.isclose(out.open[300] / out.close[299], 0.8, rel_tol=1e-12)
    assert np.allclose(out.close[300:] / bars.close[300:], 0.8)
    assert np.array_equal(out.volume, bars.volume) and valid(out)


def test_a_gap_between_bars_lands_on_the_next_bar() -> None:
    bars = market()
    out = gap_down(int(bars.ts_ns[100]) - 1, 0.2)(bars)
    assert out.close[99] == bars.close[99] and math.isclose(out.close[100], bars.close[100] * 0.8)
    assert np.array_equal(gap_down(int(bars.ts_ns[-1]) + 1)(bars).close, bars.close)


def test_flash_crash_falls_its_depth_and_recovers() -> None:
    bars = market()
    out = flash_crash(int(bars.ts_ns[200]), depth=0.10, fall_bars=5, recovery_bars=30)(bars)
    ratio = out.close / bars.close
    assert np.array_equal(ratio[:200], np.ones(200))
    assert np.all(np.diff(ratio[199:205]) < 0)  # five bars down
    assert math.isclose(ratio.min(), 0.9, rel_tol=1e-12) and int(ratio.argmin()) == 204
    assert np.all(np.diff(ratio[204:235]) > 0)  # thirty bars back up
    assert np.allclose(ratio[234:], 1.0) and np.array_equal(out.close[235:], bars.close[235:])
    # the open follows the previous close's factor: no gap inside the crash
    assert np.allclose(out.open[201:240], out.close[200:239])
    assert valid(out)


def test_volatility_x3_triples_the_returns_around_their_mean() -> None:
    bars = market(n=2000, seed=4)
    out = volatility_scaled(3.0)(bars)
    before, after = np.diff(np.log(bars.close)), np.diff(np.log(out.close))
    assert out.close[0] == bars.close[0]  # anchored at the first price
    assert math.isclose(after.std() / before.std(), 3.0, rel_tol=1e-9)
    assert math.isclose(after.mean(), before.mean(), rel_tol=1e-6, abs_tol=1e-15)
    widths_before = np.log(bars.high / bars.low)
    assert np.allclose(np.log(out.high / out.low), 3.0 * widths_before)
    assert valid(out)


def test_feed_outage_removes_exactly_the_window() -> None:
    bars = market()
    start, end = int(bars.ts_ns[100]), int(bars.ts_ns[159])
    out = feed_outage(start, end)(bars)
    assert len(out) == len(bars) - 60
    assert not np.any((out.ts_ns >= start) & (out.ts_ns <= end))
    assert np.array_equal(out.ts_ns[:100], bars.ts_ns[:100])
    assert np.array_equal(out.close[100:], bars.close[160:])


def test_conform_puts_prices_on_the_tick_and_keeps_bars_valid() -> None:
    bars = BarColumns(
        ts_ns=np.array([1, 2, 3], dtype=np.int64),
        open=np.array([10.004, 0.001, 5.0]),
        high=np.array([10.001, 0.002, np.inf]),  # a high below the open; a non-finite row
        low=np.array([10.006, 0.0005, 4.0]),  # a low above the open
        close=np.array([10.0051, 0.003, 5.0]),
        volume=np.array([1.0, 2.0, 3.0]),
    )
    out = conform_bars(bars, 0.01, 2, 1e6)
    assert list(out.ts_ns) == [1, 2]  # the non-finite row dropped
    assert list(out.open) == [10.0, 0.01] and list(out.close) == [10.01, 0.01]
    assert list(out.high) == [10.01, 0.01] and list(out.low) == [10.0, 0.01]
    assert valid(out)


# Property: every transform, then conform, gives valid bars on the tick with increasing times.
@settings(max_examples=100, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    kind=st.sampled_from(["gap", "crash", "vol", "outage"]),
    where=st.floats(0.0, 1.0),
    start=st.floats(0.05, 5000.0),
)
def test_every_transform_conforms_to_valid_bars(
    seed: int, kind: str, where: float, start: float
) -> None:
    bars = market(n=300, seed=seed, start=start)
    at = int(bars.ts_ns[0] + where * (bars.ts_ns[-1] - bars.ts_ns[0]))
    transform = {
        "gap": gap_down(at),
        "crash": flash_crash(at),
        "vol": volatility_scaled(3.0),
        "outage": feed_outage(at, at + 30 * MINUTE),
    }[kind]
    out = conform_bars(transform(bars), 0.01, 2, 1e9)
    assert valid(out) and np.all(np.diff(out.ts_ns) > 0)
    ticks = np.concatenate([out.open, out.high, out.low, out.close]) / 0.01
    assert np.allclose(ticks, np.round(ticks), atol=1e-6)
