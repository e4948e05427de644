"""Bootstraps and baselines: seeded, ordered, and checked against direct computations."""

import math

import numpy as np
import pytest

from quantdesk.domain.errors import InvalidInputError
from quantdesk.services.validation import resampling
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


def test_bootstrap_sizes_are_bounded_inclusively(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resampling, "_CELLS_MAX", 10)
    assert daily_bootstrap(np.full(5, 0.01), 100.0, samples=2, seed=1) is not None  # 10 cells
    assert trade_order_bootstrap([1.0], 100.0, samples=10, seed=1) is not None  # 10 x 1
    assert trade_order_bootstrap([1.0], 100.0, samples=1, seed=1) is not None
    for samples, length in ((3, 5), (0, 5)):
        with pytest.raises(InvalidInputError) as refused:
            daily_bootstrap(np.full(length, 0.01), 100.0, samples=samples, seed=1)
        assert refused.value.code == "bootstrap_too_large"
        assert refused.value.data == {"samples": samples, "length": length}
        assert f"{samples:,} samples of {length:,} steps exceed" in str(refused.value)


def test_too_few_returns_or_closes_are_refused_by_code() -> None:
    for call in (
        lambda: daily_bootstrap(np.array([0.01]), 100.0, samples=5, seed=1),
        lambda: bootstrap_p_value(np.array([0.01]), samples=5, seed=1),
    ):
        with pytest.raises(InvalidInputError) as refused:
            call()
        assert refused.value.code == "too_few_returns"
        assert "fewer than two daily returns" in str(refused.value)
    for closes in ([100.0], [0.0, 1.0], [-1.0, 1.0]):
        with pytest.raises(InvalidInputError) as refused:
            buy_and_hold_return(np.array(closes))
        assert refused.value.code == "too_few_closes"
        assert "buy-and-hold needs two closes and a positive first one" in str(refused.value)
    assert buy_and_hold_return(np.array([0.5, 0.75])) == pytest.approx(0.5)  # two closes do
    assert buy_and_hold_return(np.array([2, 3])) == pytest.approx(0.5)  # integers are prices
    two = daily_bootstrap(np.array([0.01, 0.02]), 100.0, samples=3, seed=1)
    assert len(two.fan["p50"]) == 2


def test_the_p_value_counts_ties_and_its_own_draw() -> None:
    # centred returns are -1 and +1; a resampled mean of two draws equals the observed mean
    # (1) only when both draws are +1: ties count as "at least as good"
    returns, samples, seed = np.array([0.0, 2.0]), 2_000, 5
    draws = np.random.default_rng(seed).choice(returns - 1.0, size=(samples, 2)).mean(axis=1)
    ties = int(np.count_nonzero(draws == 1.0))
    assert 0 < ties < samples
    assert bootstrap_p_value(returns, samples, seed) == (1 + ties) / (1 + samples)


def test_drawdowns_are_taken_along_each_path() -> None:
    paths = np.array([[100.0, 90.0], [120.0, 60.0]])
    assert list(resampling._drawdown_sizes(paths, 100.0)) == pytest.approx([0.1, 0.5])
    # a path that never falls below its start has no drawdown, however it ends
    assert list(resampling._drawdown_sizes(np.array([[100.0, 130.0]]), 100.0)) == [0.0]


def _random_entries_by_loop(
    closes: np.ndarray, holds: list[int], exposure: float, seeds: int, seed: int
) -> list[float]:
    """The module's spec, one trade at a time, drawing in the module's order (per seed: the
    holding times, the gaps, the sides, one per possible trade)."""
    share = min(exposure, 1.0)
    usable = np.array([h for h in holds if h >= 1])
    n = len(closes) - 1
    most = n // int(usable.min()) + 1
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(seeds):
        held = rng.choice(usable, size=most)
        uniform = rng.random(most)
        sides = rng.choice(np.array([-1.0, 1.0]), size=most)
        total, t = 1.0, 0
        for i in range(most):
            gap_max = math.floor(2.0 * held[i] * (1.0 - share) / share)
            t += math.floor(uniform[i] * (gap_max + 1))
            if t >= n:
                break
            exit_ = min(t + int(held[i]), n)
            total *= 1.0 + sides[i] * (closes[exit_] / closes[t] - 1.0)
            t += int(held[i])
        out.append(total - 1.0)
    return out


@pytest.mark.parametrize(
    ("holds", "exposure"), [([3], 0.5), ([2, 7, 0], 0.25), ([4, 9], 1.0), ([5], 1.5)]
)
def test_random_entries_equal_the_spec_trade_by_trade(holds: list[int], exposure: float) -> None:
    closes = 100 * np.exp(np.cumsum(np.random.default_rng(9).normal(0, 0.01, 400)))
    got = random_entry_returns(closes, holding_bars=holds, exposure=exposure, seeds=25, seed=3)
    assert list(got) == pytest.approx(
        _random_entries_by_loop(closes, holds, exposure, 25, 3), rel=1e-12, abs=1e-15
    )


def test_random_entries_refuse_what_they_cannot_draw_from() -> None:
    closes = np.linspace(100.0, 110.0, 50)
    for call in (
        lambda: random_entry_returns(closes[:1], holding_bars=[3], exposure=0.5, seeds=5, seed=1),
        lambda: random_entry_returns(closes, holding_bars=[0], exposure=0.5, seeds=5, seed=1),
        lambda: random_entry_returns(closes, holding_bars=[3], exposure=0.5, seeds=0, seed=1),
    ):
        with pytest.raises(InvalidInputError) as refused:
            call()
        assert refused.value.code == "too_few_closes"
        assert "random entries need two closes, a holding time of a bar or more" in str(
            refused.value
        )
    zero = closes.copy()
    zero[:] = 0.0  # every entry at a price of 0
    with pytest.raises(InvalidInputError) as refused:
        random_entry_returns(zero, holding_bars=[3], exposure=1.0, seeds=3, seed=1)
    assert refused.value.code == "bad_closes" and "non-finite" in str(refused.value)


def test_percentiles_are_the_five_fan_points() -> None:
    p = percentiles(np.arange(101, dtype=np.float64))
    assert (p.p5, p.p25, p.p50, p.p75, p.p95) == (5.0, 25.0, 50.0, 75.0, 95.0)
    assert percentiles([1, 2, 3]).p50 == 2.0  # plain integers too
    with pytest.raises(InvalidInputError) as refused:
        percentiles([])
    assert refused.value.code == "no_values" and "no values to take percentiles of" in str(
        refused.value
    )


def test_the_smallest_random_entry_inputs_are_taken() -> None:
    # two closes, one-bar holds, one seed, always in the market: one trade of +-10%
    out = random_entry_returns(
        np.array([100.0, 110.0]), holding_bars=[1], exposure=1.0, seeds=1, seed=2
    )
    assert out.shape == (1,) and abs(float(out[0])) == pytest.approx(0.1)


def test_the_trade_order_bootstrap_is_seeded() -> None:
    pnls = [5.0, -3.0, 8.0, -6.0, 2.0]
    one = trade_order_bootstrap(pnls, 100.0, samples=200, seed=7)
    assert one == trade_order_bootstrap(pnls, 100.0, samples=200, seed=7)
    assert one != trade_order_bootstrap(pnls, 100.0, samples=200, seed=8)
