"""N-minute bars from 1-minute bars: exact OHLCV against pandas' resample, complete buckets only."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.market_data import BarSpec
from quantdesk.services.bar_aggregation import MINUTE_NS, aggregate_minute_bars
from quantdesk.services.columns import BarColumns
from quantdesk.services.synthetic import SyntheticMarketConfig, generate_market


def minute_bars(minutes: list[int], seed: int) -> BarColumns:
    rng = np.random.default_rng(seed)
    n = len(minutes)
    close = np.round(100 + np.cumsum(rng.normal(0, 0.1, n)), 2)
    open_ = np.round(close + rng.normal(0, 0.05, n), 2)
    high = np.maximum(open_, close) + np.round(rng.uniform(0, 0.1, n), 2)
    low = np.minimum(open_, close) - np.round(rng.uniform(0, 0.1, n), 2)
    volume = np.round(rng.uniform(0, 1000, n))
    ts = np.asarray(minutes, dtype=np.int64) * MINUTE_NS
    return BarColumns(ts_ns=ts, open=open_, high=high, low=low, close=close, volume=volume)


def pandas_bars(bars: BarColumns, minutes: int) -> pd.DataFrame:
    """The independent computation: resample labelled and closed on the right (ts = close)."""
    frame = pd.DataFrame(
        {name: bars.field(name) for name in ("open", "high", "low", "close", "volume")},
        index=pd.to_datetime(bars.ts_ns, unit="ns"),
    )
    frame["n"] = 1
    agg = frame.resample(f"{minutes}min", closed="right", label="right", origin="epoch").agg(
        {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum", "n": "sum"}
    )
    return agg[agg["n"] == minutes].drop(columns="n")


# Aggregation property: N-minute bars equal pandas' right-closed resample of complete buckets.
@settings(max_examples=150, deadline=None)
@given(
    minutes=st.lists(st.integers(0, 600), min_size=1, max_size=300, unique=True).map(sorted),
    step=st.sampled_from([2, 3, 5, 15, 60]),
    seed=st.integers(0, 2**32 - 1),
    offset=st.integers(28_000_000, 28_500_000),  # minutes since the epoch (~2023)
)
def test_aggregation_matches_pandas_resample(
    minutes: list[int], step: int, seed: int, offset: int
) -> None:
    bars = minute_bars([offset + m for m in minutes], seed)
    spec = BarSpec(step=step, aggregation="MINUTE", price_type="LAST")
    ours = aggregate_minute_bars(bars, spec)
    expected = pandas_bars(bars, step)
    assert ours.ts_ns.tolist() == expected.index.asi8.tolist()
    for name in ("open", "high", "low", "close", "volume"):
        assert ours.field(name).tolist() == expected[name].tolist(), name
    assert np.all(ours.ts_ns % (step * MINUTE_NS) == 0)


def test_a_synthetic_day_in_five_minute_bars_is_exact_and_deterministic() -> None:
    config = SyntheticMarketConfig(instruments=1, days=1, seed=3)
    bars = generate_market(config)[0].bars
    spec = BarSpec.parse("5-MINUTE-LAST")
    five = aggregate_minute_bars(bars, spec)
    assert len(five) == 288
    assert five.open[0] == bars.open[0] and five.close[-1] == bars.close[-1]
    assert five.high[0] == bars.high[:5].max() and five.low[0] == bars.low[:5].min()
    assert five.volume.sum() == bars.volume.sum()
    again = aggregate_minute_bars(generate_market(config)[0].bars, spec)
    for name in ("ts_ns", "open", "high", "low", "close", "volume"):
        assert np.array_equal(getattr(five, name), getattr(again, name))


def test_partial_buckets_at_either_end_are_dropped() -> None:
    bars = minute_bars(list(range(3, 23)), seed=1)  # minutes 3..22: buckets (0,5] .. (20,25]
    five = aggregate_minute_bars(bars, BarSpec.parse("5-MINUTE-LAST"))
    assert (five.ts_ns // MINUTE_NS).tolist() == [10, 15, 20]
    assert five.open[0] == bars.open[3]  # minute 6 opens the bar closing at 10


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("5-MINUTE-BID", "LAST prices only"),
        ("100-TICK-LAST", "only MINUTE, HOUR and DAY"),
        ("30-SECOND-LAST", "only MINUTE, HOUR and DAY"),
    ],
)
def test_specs_that_cannot_be_built_are_named(text: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        aggregate_minute_bars(minute_bars([1, 2], 0), BarSpec.parse(text))


def test_a_bar_longer_than_the_market_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="longer than the 1 day"):
        SyntheticMarketConfig(days=1, bar_specs=(BarSpec.parse("2-DAY-LAST"),))
