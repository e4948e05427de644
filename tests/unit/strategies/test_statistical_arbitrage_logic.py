"""The pair's hedge ratio, z-score, leg sizing and entry/exit rule, without an engine."""

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.domain.backtest_checks import ParameterValueError
from quantdesk.strategies.statistical_arbitrage import (
    StatisticalArbitrage,
    StatisticalArbitrageConfig,
    leg_quantity,
    ols_beta,
    spread_target,
    spread_zscore,
)


def test_the_hedge_ratio_is_the_ols_slope_with_an_intercept() -> None:
    rng = np.random.default_rng(3)
    x = 100 + np.cumsum(rng.standard_normal(200))
    y = 5 + 1.7 * x + rng.standard_normal(200)
    slope, _ = np.polyfit(x, y, 1)
    assert ols_beta(x, y) == pytest.approx(slope, rel=1e-12)
    assert ols_beta(np.full(10, 3.0), np.arange(10.0)) is None  # x does not move


def test_the_zscore_is_the_last_spread_in_deviations_of_the_window() -> None:
    x = np.array([10.0, 11.0, 12.0, 11.0, 10.0])
    y = np.array([20.0, 22.5, 24.0, 21.5, 23.0])
    spread = y - 2.0 * x
    expected = (spread[-1] - spread.mean()) / spread.std()
    assert spread_zscore(x, y, 2.0) == pytest.approx(expected, rel=1e-12)
    assert spread_zscore(x, 2.0 * x + 1.0, 2.0) is None  # a flat spread has no z


# Property 11: the hedge leg is trade_size * beta on the instrument's size grid
@settings(max_examples=200)
@given(
    st.integers(1, 10_000),
    st.floats(0.001, 50.0, allow_nan=False),
    st.sampled_from(["1", "0.01", "5", "0.5"]),
)
def test_the_hedge_leg_is_the_nearest_multiple_of_the_increment(
    size: int, beta: float, step: str
) -> None:
    increment = Decimal(step)
    quantity = leg_quantity(Decimal(size), beta, increment)
    assert quantity % increment == 0
    assert abs(quantity - Decimal(size) * Decimal(beta)) <= increment / 2


def test_halves_round_to_even_and_tiny_ratios_to_zero() -> None:
    assert leg_quantity(Decimal(100), 0.125, Decimal(1)) == 12  # 12.5 -> 12
    assert leg_quantity(Decimal(100), 0.135, Decimal(1)) == 14
    assert leg_quantity(Decimal(100), 0.004, Decimal(1)) == 0


@pytest.mark.parametrize(
    ("z", "held", "target"),
    [
        (2.0, 0, -1),  # at +entry: short the spread
        (-2.5, 0, 1),
        (1.99, 0, None),
        (0.5, -1, 0),  # at the exit band: close
        (-0.4, 1, 0),
        (0.6, 1, None),
        (2.5, 1, None),  # no flip while held
    ],
)
def test_entry_and_exit_bands(z: float, held: int, target: int | None) -> None:
    assert spread_target(z, held, 2.0, 0.5) == target


def pair_config(**overrides: object) -> StatisticalArbitrageConfig:
    values: dict[str, object] = {
        "instrument_ids": ["Y.SIM", "X.SIM"],
        "trade_size": 100,
        **overrides,
    }
    return StatisticalArbitrageConfig(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"instrument_ids": ["Y.SIM", "X.SIM", "Z.SIM"]}, "instrument_ids"),
        ({"instrument_ids": ["Y.SIM"]}, "instrument_ids"),
        ({"hedge_ratio": "kalman"}, "hedge_ratio"),
        ({"exit_zscore": 2.0}, "exit_zscore"),
        ({"hedge_ratio": "fixed"}, "fixed_hedge_ratio"),
        ({"fixed_hedge_ratio": 1.5}, "fixed_hedge_ratio"),
        ({"lookback": 10}, "lookback"),
        ({"entry_zscore": 9.0}, "entry_zscore"),
        ({"hedge_ratio": "fixed", "fixed_hedge_ratio": -1.0}, "fixed_hedge_ratio"),
    ],
)
def test_a_config_the_model_refuses_is_refused_naming_the_field(
    overrides: dict[str, object], field: str
) -> None:
    with pytest.raises(ParameterValueError) as refused:
        StatisticalArbitrage(pair_config(**overrides))
    assert refused.value.parameter == field


def test_the_warm_up_is_one_window() -> None:
    assert StatisticalArbitrage(pair_config(lookback=77)).warmup_bars == 77
