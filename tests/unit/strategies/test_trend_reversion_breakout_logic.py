"""Decision logic of the trend, reversion and breakout families, without an engine: the
reversion rule step by step, the breakout's volatility sizing, the configs' checks."""

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.domain.backtest_checks import ParameterValueError
from quantdesk.strategies.mean_reversion import MeanReversion, MeanReversionConfig, reversion_step
from quantdesk.strategies.trend_following import TrendFollowing, TrendFollowingConfig
from quantdesk.strategies.volatility_breakout import (
    VolatilityBreakout,
    VolatilityBreakoutConfig,
    scaled_size,
)

ENTRY, EXIT, STOP = 2.0, 0.5, 3.0


@pytest.mark.parametrize(
    ("z", "side", "stopped", "expected"),
    [
        (2.1, 0, False, (False, -1, False)),  # stretched up: short
        (-2.0, 0, False, (False, 1, False)),  # at -entry: long
        (1.9, 0, False, (False, 0, False)),  # not far enough
        (3.2, 0, False, (False, 0, False)),  # beyond the stop band: no entry
        (-1.0, 1, False, (False, 0, False)),  # long, still stretched: hold
        (-0.5, 1, False, (True, 0, False)),  # long back within exit: close
        (2.5, 1, False, (True, -1, False)),  # long overshoots to +entry: flip
        (-3.0, 1, False, (True, 0, True)),  # long stopped out
        (3.0, -1, False, (True, 0, True)),  # short stopped out
        (-2.5, 0, True, (False, 0, True)),  # stopped: out until |z| < entry
        (1.5, 0, True, (False, 0, False)),  # calm again: free, no entry at 1.5
    ],
)
def test_reversion_step(
    z: float, side: int, stopped: bool, expected: tuple[bool, int, bool]
) -> None:
    assert reversion_step(z, side, stopped, ENTRY, EXIT, STOP) == expected


def test_without_a_stop_any_stretch_opens() -> None:
    assert reversion_step(9.0, 0, False, ENTRY, EXIT, None) == (False, -1, False)
    assert reversion_step(-9.0, 1, False, ENTRY, EXIT, None) == (False, 0, False)


# Property 11 (its sizing rule): never above trade_size, a multiple of the increment, and the
# largest such multiple within trade_size * realised / forecast.
@settings(max_examples=200, deadline=None)
@given(
    size=st.integers(1, 10_000),
    increment=st.sampled_from([Decimal(1), Decimal("0.01"), Decimal(5)]),
    realised=st.floats(1e-4, 10.0),
    forecast=st.floats(1e-4, 10.0),
)
def test_scaled_size(size: int, increment: Decimal, realised: float, forecast: float) -> None:
    trade_size = Decimal(size) * increment
    got = scaled_size(trade_size, increment, realised, forecast)
    assert 0 <= got <= trade_size
    assert got % increment == 0
    cap = trade_size * Decimal(min(1.0, realised / forecast))
    assert got <= cap + Decimal("1e-12") * trade_size
    assert got + increment > cap - Decimal("1e-9") * trade_size


def test_no_forecast_means_full_size() -> None:
    assert scaled_size(Decimal(100), Decimal(1), 0.3, None) == 100
    assert scaled_size(Decimal(100), Decimal(1), None, 0.3) == 100
    assert scaled_size(Decimal(100), Decimal(1), 0.1, 0.4) == 25


BASE: dict[str, Any] = {"instrument_ids": ["SYN01.SIM"], "trade_size": Decimal(100)}


@pytest.mark.parametrize(
    ("make", "fields", "field"),
    [
        (lambda c: TrendFollowing(TrendFollowingConfig(**c)), {"ma_type": "kama"}, "ma_type"),
        (
            lambda c: TrendFollowing(TrendFollowingConfig(**c)),
            {"fast_period": 50, "slow_period": 50},
            "fast_period",
        ),
        (
            lambda c: TrendFollowing(TrendFollowingConfig(**c)),
            {"atr_stop_multiple": 0.1},
            "atr_stop_multiple",
        ),
        (
            lambda c: MeanReversion(MeanReversionConfig(**c)),
            {"entry_zscore": 1.0, "exit_zscore": 1.5},
            "exit_zscore",
        ),
        (
            lambda c: MeanReversion(MeanReversionConfig(**c)),
            {"stop_zscore": 1.5},
            "exit_zscore",
        ),
        (
            lambda c: VolatilityBreakout(VolatilityBreakoutConfig(**c)),
            {"channel_period": 2},
            "channel_period",
        ),
    ],
)
def test_bad_configs_are_refused_naming_the_field(
    make: Any, fields: dict[str, Any], field: str
) -> None:
    with pytest.raises(ParameterValueError) as raised:
        make({**BASE, **fields})
    assert raised.value.parameter == field


def test_warmup_covers_every_indicator() -> None:
    trend = TrendFollowing(TrendFollowingConfig(**BASE, slow_period=5, fast_period=3))
    assert trend.warmup_bars == 5
    stopped = TrendFollowingConfig(**BASE, slow_period=5, fast_period=3, atr_stop_multiple=2.0)
    assert TrendFollowing(stopped).warmup_bars == 14
    breakout = VolatilityBreakout(VolatilityBreakoutConfig(**BASE, channel_period=20))
    assert breakout.warmup_bars == 21
