"""Regime switching's decision rules, without an engine: labels, the reversion state machine,
the running median and the realised-volatility regime against numpy."""

import math
import statistics
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.domain.backtest_checks import ParameterValueError
from quantdesk.services.signal_producers.regime import REGIME_LABELS
from quantdesk.strategies.regime_switching import (
    Regime,
    RegimeSwitching,
    RegimeSwitchingConfig,
    RunningMedian,
    VolatilityRegime,
    regime_of_label,
    reversion_target,
)


def test_the_built_in_models_labels_map_by_their_volatility_half() -> None:
    assert {label: regime_of_label(label) for label in REGIME_LABELS} == {
        "bull_quiet": Regime.RANGING,
        "bull_volatile": Regime.TRENDING,
        "bear_quiet": Regime.RANGING,
        "bear_volatile": Regime.TRENDING,
    }
    assert regime_of_label("trending") is Regime.TRENDING
    assert regime_of_label("ranging") is Regime.RANGING
    assert regime_of_label("sideways") is Regime.NEITHER
    assert regime_of_label("bull") is Regime.NEITHER


@pytest.mark.parametrize(
    ("held", "z", "expected"),
    [
        (0, 2.0, -1),  # stretched up: fade short
        (0, -2.5, 1),
        (0, 1.99, 0),
        (-1, 0.3, -1),  # short holds until z is back to 0
        (-1, 0.0, 0),
        (-1, -0.1, 0),
        (1, -0.3, 1),
        (1, 0.0, 0),
    ],
)
def test_reversion_enters_at_the_band_and_exits_at_the_mean(
    held: int, z: float, expected: int
) -> None:
    assert reversion_target(held, z, 2.0) == expected


# Property (regime_switching volatility rule): the running median equals the median of the
# prefix, value by value.
@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=60))
def test_running_median_is_the_prefix_median(values: list[float]) -> None:
    median = RunningMedian()
    for i, value in enumerate(values):
        median.add(value)
        assert median.median() == pytest.approx(statistics.median(values[: i + 1]), abs=1e-9)


def test_volatility_regime_matches_numpy_rv_against_its_expanding_median() -> None:
    rng = np.random.default_rng(3)
    scale = np.where(np.arange(600) % 200 < 100, 0.001, 0.004)  # quiet and loud stretches
    closes = 100 * np.exp(np.cumsum(rng.standard_normal(600) * scale))
    lookback = 20
    regime = VolatilityRegime(lookback)
    got = [regime.update(float(c)) for c in closes]

    r = np.diff(np.log(closes))
    rv = np.sqrt(np.convolve(r * r, np.ones(lookback), "valid") / lookback)  # rv[j]: bar j+lookback
    expected = [Regime.NEITHER] * len(closes)
    for j in range(lookback - 1, len(rv)):  # lookback rv values seen
        median = float(np.median(rv[: j + 1]))
        expected[j + lookback] = Regime.TRENDING if rv[j] > median else Regime.RANGING
    assert got == expected
    assert {Regime.TRENDING, Regime.RANGING} <= set(got)
    first = next(i for i, regime in enumerate(got) if regime is not Regime.NEITHER)
    assert first == 2 * lookback - 1  # the 2 * lookback-th bar: warmup_bars


def test_hand_written_configs_meet_the_models_rules() -> None:
    def build(**kw: object) -> RegimeSwitching:
        return RegimeSwitching(
            RegimeSwitchingConfig(instrument_ids=["SYN01.SIM"], trade_size=Decimal(100), **kw)  # type: ignore[arg-type]
        )

    with pytest.raises(ParameterValueError) as error:
        build(trend_fast_period=50, trend_slow_period=50)
    assert error.value.parameter == "trend_fast_period"
    with pytest.raises(ParameterValueError) as error:
        build(regime_source="hmm")
    assert error.value.parameter == "regime_source"
    with pytest.raises(ParameterValueError) as error:
        build(reversion_entry_zscore=math.inf)
    assert error.value.parameter == "reversion_entry_zscore"


def test_signal_regimes_subscribe_and_volatility_regimes_need_warm_up() -> None:
    signal = RegimeSwitching(
        RegimeSwitchingConfig(instrument_ids=["SYN01.SIM"], trade_size=Decimal(1))
    )
    assert signal._signal_types == frozenset({"REGIME_PREDICTION"})
    assert signal.warmup_bars == 20  # the reversion lookback decides first
    volatility = RegimeSwitching(
        RegimeSwitchingConfig(
            instrument_ids=["SYN01.SIM"], trade_size=Decimal(1), regime_source="volatility"
        )
    )
    assert volatility._signal_types == frozenset()
    assert volatility.warmup_bars == 120
