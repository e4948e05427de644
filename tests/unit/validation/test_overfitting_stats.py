"""PSR, expected maximum Sharpe and DSR: the papers' worked example and an independent
implementation (scipy's normal distribution, moments by scipy.stats)."""

import math

import numpy as np
import pytest
from scipy import stats

from quantdesk.domain.errors import InvalidInputError
from quantdesk.services.validation.overfitting import (
    deflated_sharpe,
    expected_max_sharpe,
    moments,
    probabilistic_sharpe,
)


def test_the_deflated_sharpe_papers_worked_example() -> None:
    # Bailey & López de Prado, "The Deflated Sharpe Ratio" (2014), section 5: N = 100 trials,
    # V[SR] = 1/2 annualised, 1,250 daily observations, annualised SR 2.5, skewness -3,
    # kurtosis 10 -> SR0 = 0.1132 (daily) and DSR = 0.9004.
    sr0 = expected_max_sharpe(100, 0.5 / 250)
    assert sr0 == pytest.approx(0.1132, abs=5e-5)
    dsr = probabilistic_sharpe(2.5 / math.sqrt(250), sr0, 1250, -3.0, 10.0)
    assert dsr == pytest.approx(0.9004, abs=5e-4)


def _independent(returns: np.ndarray, trials: int, variance: float) -> tuple[float, float, float]:
    sr = returns.mean() / returns.std(ddof=1)
    skew = stats.skew(returns)
    kurt = stats.kurtosis(returns, fisher=False)
    gamma = np.euler_gamma
    sr0 = (
        math.sqrt(variance)
        * (
            (1 - gamma) * stats.norm.ppf(1 - 1 / trials)
            + gamma * stats.norm.ppf(1 - 1 / (trials * math.e))
        )
        if trials > 1
        else 0.0
    )

    def psr(benchmark: float) -> float:
        z = (sr - benchmark) * math.sqrt(len(returns) - 1)
        return float(stats.norm.cdf(z / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2)))

    return psr(0.0), sr0, psr(sr0)


@pytest.mark.parametrize("seed", range(8))
def test_deflated_sharpe_equals_an_independent_implementation(seed: int) -> None:
    rng = np.random.default_rng(seed)
    returns = rng.standard_t(5, size=300) * 0.01 + rng.uniform(-0.001, 0.002)
    trials, variance = int(rng.integers(1, 500)), float(rng.uniform(0, 0.01))
    got = deflated_sharpe(returns, trials=trials, sharpe_variance=variance)
    psr, sr0, dsr = _independent(returns, trials, variance)
    assert (got.psr, got.sr0, got.dsr) == pytest.approx((psr, sr0, dsr), rel=1e-9, abs=1e-12)
    assert got.kurtosis == pytest.approx(stats.kurtosis(returns, fisher=False), rel=1e-9)


def test_one_trial_does_not_deflate() -> None:
    returns = np.random.default_rng(3).normal(0.001, 0.01, 200)
    result = deflated_sharpe(returns, trials=1, sharpe_variance=0.3)
    assert result.sr0 == 0.0 and result.dsr == result.psr


def test_more_trials_deflate_more() -> None:
    returns = np.random.default_rng(4).normal(0.002, 0.01, 250)
    few = deflated_sharpe(returns, trials=10, sharpe_variance=0.002)
    many = deflated_sharpe(returns, trials=1000, sharpe_variance=0.002)
    assert many.sr0 > few.sr0 and many.dsr < few.dsr


def test_a_zero_sharpe_has_even_odds() -> None:
    assert probabilistic_sharpe(0.0, 0.0, 100, 0.0, 3.0) == pytest.approx(0.5)


def test_too_few_or_constant_returns_are_refused_with_the_count() -> None:
    with pytest.raises(InvalidInputError) as few:
        deflated_sharpe(np.array([0.01, 0.02]), trials=5, sharpe_variance=0.1)
    assert (few.value.code, few.value.data) == ("too_few_returns", {"n": 2})
    assert "2 returns are too few for a Sharpe ratio's distribution (3 at least)" in str(few.value)
    with pytest.raises(InvalidInputError) as flat:
        deflated_sharpe(np.zeros(50), trials=5, sharpe_variance=0.1)
    assert (flat.value.code, flat.value.data) == ("constant_returns", {"n": 50})
    assert "the returns do not vary: their Sharpe ratio is undefined" in str(flat.value)
    with pytest.raises(InvalidInputError) as one:
        probabilistic_sharpe(0.1, 0.0, 1, 0.0, 3.0)
    assert (one.value.code, one.value.data) == ("too_few_returns", {"n": 1})
    assert "the probabilistic Sharpe ratio needs at least two observations" in str(one.value)


def test_the_smallest_samples_are_taken() -> None:
    three = deflated_sharpe(np.array([1, 3, 2]), trials=2, sharpe_variance=1.0)  # ints too
    sr, skew, kurtosis = moments(np.array([1.0, 3.0, 2.0]))
    assert (three.sr, three.skew, three.kurtosis, three.n) == (sr, skew, kurtosis, 3)
    assert sr == pytest.approx(2.0 / 1.0) and skew == pytest.approx(0.0, abs=1e-12)
    assert kurtosis == pytest.approx(1.5)
    assert probabilistic_sharpe(0.1, 0.0, 2, 0.0, 3.0) == pytest.approx(
        float(stats.norm.cdf(0.1 / math.sqrt(1 + 0.5 * 0.01)))
    )


def test_two_trials_already_deflate_and_no_variance_does_not() -> None:
    first = stats.norm.ppf(1 - 1 / 2)
    second = stats.norm.ppf(1 - 1 / (2 * math.e))
    gamma = 0.5772156649015329
    assert expected_max_sharpe(2, 0.04) == pytest.approx(
        0.2 * ((1 - gamma) * first + gamma * second), rel=1e-12
    )
    assert expected_max_sharpe(2, 0.04) > 0
    assert expected_max_sharpe(100, 0.0) == 0.0 and expected_max_sharpe(100, -1.0) == 0.0
