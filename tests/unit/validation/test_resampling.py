"""Bootstraps and baselines: seeded, ordered, and checked against direct computations."""

import numpy as np
import pytest

from quantdesk.domain.errors import InvalidInputError
from quantdesk.services.validation.resampling import (
    bootstrap_p_value,
    buy_and_hold_return,
    daily_bootstrap,
    percentiles,
    random_entry_returns,
    trade_order_bootstrap,
)


def _ordered(p: object) -> bool:
    values = [getattr(p, k) for k in ("p5", "p25", "p50", "p75", "p95")]
    return values == sorted(values)


def test_daily_bootstrap_is_seeded_ordered_and_one_fan_point_per_day() -> None:
    returns = np.random.default_rng(1).normal(0.0005, 0.01, 120)
    a = daily_bootstrap(returns, 1e6, 500, seed=9)
    assert a == daily_bootstrap(returns, 1e6, 500, seed=9)
    assert a != daily_bootstrap(returns, 1e6, 500, seed=10)
    assert _ordered(a.final_equity) and _ordered(a.max_drawdown)
    assert all(len(path) == 120 for path in a.fan.values())
    assert all(lo <= hi for lo, hi in zip(a.fan["p5"], a.fan["p95"], strict=True))
    assert a.max_drawdown.p5 >= 0


def test_daily_bootstrap_of_one_repeated_return_is_that_path() -> None:
    returns = np.full(10, 0.01)
    result = daily_bootstrap(returns, 100.0, 200, seed=0)
    assert result.final_equity.p50 == pytest.approx(100 * 1.01**10)
    assert result.max_drawdown.p95 == 0.0
    assert result.fan["p50"][0] == pytest.approx(101.0)


def test_trade_order_bootstrap_draws_with_replacement() -> None:
    pnls = [100.0, -50.0, 30.0, -80.0, 10.0]
    result = trade_order_bootstrap(pnls, 1_000.0, 2_000, seed=3)
    assert result is not None and _ordered(result.final_equity)
    assert result.final_equity.p5 < 1_010.0 < result.final_equity.p95  # varies: not a shuffle
    assert trade_order_bootstrap([], 1_000.0, 100, seed=3) is None


def test_trade_order_drawdown_of_a_known_sequence() -> None:
    result = trade_order_bootstrap([-100.0], 1_000.0, 50, seed=1)
    assert result is not None and result.max_drawdown.p50 == pytest.approx(0.1)


def test_bootstrap_p_value_separates_edge_from_noise() -> None:
    rng = np.random.default_rng(2)
    edge = rng.normal(0.003, 0.01, 500)
    noise = rng.normal(0.0, 0.01, 500) - 0.0005
    assert bootstrap_p_value(edge, 2_000, seed=1) < 0.01
    assert bootstrap_p_value(noise, 2_000, seed=1) > 0.2
    assert bootstrap_p_value(edge, 2_000, seed=1) == bootstrap_p_value(edge, 2_000, seed=1)


def test_buy_and_hold_and_percentiles() -> None:
    assert buy_and_hold_return(np.array([100.0, 90.0, 125.0])) == pytest.approx(0.25)
    p = percentiles(list(range(101)))
    assert (p.p5, p.p50, p.p95) == (5.0, 50.0, 95.0)
    with pytest.raises(InvalidInputError):
        buy_and_hold_return(np.array([100.0]))


def test_random_entries_on_a_straight_line_earn_only_by_side() -> None:
    closes = np.linspace(100.0, 200.0, 1_001)
    out = random_entry_returns(closes, holding_bars=[10], exposure=0.5, seeds=300, seed=4)
    assert out.shape == (300,) and np.all(np.isfinite(out))
    assert np.array_equal(
        out, random_entry_returns(closes, holding_bars=[10], exposure=0.5, seeds=300, seed=4)
    )
    # on a rising line longs gain, shorts lose: the mean is near 0, the spread wide
    assert abs(float(np.median(out))) < 0.2 and out.max() > 0 > out.min()


def test_random_entries_hold_about_the_exposure() -> None:
    rng = np.random.default_rng(5)
    closes = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, 20_001)))
    flat = random_entry_returns(closes, holding_bars=[5], exposure=0.0, seeds=10, seed=1)
    assert np.all(flat == 0.0)
    low = random_entry_returns(closes, holding_bars=[5], exposure=0.1, seeds=200, seed=1)
    high = random_entry_returns(closes, holding_bars=[5], exposure=0.9, seeds=200, seed=1)
    assert np.std(low) < np.std(high)  # more time in the market, more dispersion
