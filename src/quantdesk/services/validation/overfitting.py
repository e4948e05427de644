"""Probabilistic and deflated Sharpe ratios (Bailey & López de Prado, 2012 and 2014).

Everything is per observation (not annualised): ``sr = mean(r) / std(r, ddof=1)``;
``skew`` and ``kurtosis`` are the sample's population moments ``mean(z**3)`` and
``mean(z**4)`` with ``z = (r - mean) / std(r, ddof=0)``; kurtosis is NOT excess (3 for a
normal distribution).

- PSR(SR*) = Φ((sr - SR*) * sqrt(n - 1) / sqrt(1 - skew*sr + (kurtosis - 1)/4 * sr²)):
  the probability that the true Sharpe exceeds the benchmark SR*, given the track record.
  The radicand is ``(1 - skew*sr/2)² + (kurtosis - 1 - skew²)/4 * sr² >= 0``; where it is 0
  the estimate has no spread and PSR is 1, 0 or 1/2 as sr is above, below or at SR*.
- E[max SR of N unskilled trials] = sqrt(V) * ((1 - g) Φ⁻¹(1 - 1/N) + g Φ⁻¹(1 - 1/(N e)))
  with g the Euler-Mascheroni constant and V the variance of the trials' Sharpe ratios;
  0 for N = 1 (nothing was selected).
- DSR = PSR(SR0) with SR0 that expected maximum: the probability the Sharpe beats the best
  of N lucky tries.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from quantdesk.domain.errors import InvalidInputError

EULER_GAMMA = 0.5772156649015329
_NORMAL = NormalDist()


@dataclass(frozen=True)
class SharpeStats:
    """The moments of one return series and its PSR (vs 0) and DSR (vs ``sr0``)."""

    sr: float
    skew: float
    kurtosis: float
    n: int
    psr: float
    sr0: float
    dsr: float


def probabilistic_sharpe(
    sr: float, sr_benchmark: float, n: int, skew: float, kurtosis: float
) -> float:
    """PSR of the module docstring; ``n >= 2`` observations."""
    if n < 2:
        raise InvalidInputError(
            f"a probabilistic Sharpe needs at least 2 observations, got {n}",
            code="sharpe_undefined",
            data={"n": n},
        )
    radicand = 1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr * sr
    diff = sr - sr_benchmark
    if radicand <= 0.0:
        return 1.0 if diff > 0 else 0.0 if diff < 0 else 0.5
    return _NORMAL.cdf(diff * math.sqrt(n - 1) / math.sqrt(radicand))


def expected_max_sharpe(trials: int, variance: float) -> float:
    """E[max] of ``trials`` Sharpe ratios drawn with variance ``variance`` and mean 0."""
    if trials < 1 or variance < 0 or not math.isfinite(variance):
        raise InvalidInputError(
            "the expected maximum Sharpe needs trials >= 1 and a finite variance >= 0",
            code="sharpe_undefined",
            data={"trials": trials, "variance": variance},
        )
    if trials == 1:
        return 0.0
    first = _NORMAL.inv_cdf(1.0 - 1.0 / trials)
    second = _NORMAL.inv_cdf(1.0 - 1.0 / (trials * math.e))
    return math.sqrt(variance) * ((1.0 - EULER_GAMMA) * first + EULER_GAMMA * second)


def moments(returns: Sequence[float] | np.ndarray) -> tuple[float, float, float, int]:
    """(sr, skew, kurtosis, n) of the module docstring; raises for < 2 or constant returns."""
    r = np.asarray(returns, dtype=np.float64)
    n = int(r.shape[0])
    std = float(np.std(r, ddof=1)) if n >= 2 else 0.0
    if n < 2 or not std > 0 or not math.isfinite(std):
        raise InvalidInputError(
            f"a Sharpe ratio needs at least 2 returns that vary ({n} given)",
            code="sharpe_undefined",
            data={"n": n},
        )
    mean = float(np.mean(r))
    z = (r - mean) / float(np.std(r, ddof=0))
    return mean / std, float(np.mean(z**3)), float(np.mean(z**4)), n


def deflated_sharpe(
    returns: Sequence[float] | np.ndarray, *, trials: int, sharpe_variance: float
) -> SharpeStats:
    """Moments, PSR vs 0 and DSR vs E[max SR of ``trials``] of one return series.

    ``sharpe_variance`` is the variance of the trials' per-observation Sharpe ratios.
    """
    sr, skew, kurtosis, n = moments(returns)
    sr0 = expected_max_sharpe(trials, sharpe_variance)
    return SharpeStats(
        sr=sr,
        skew=skew,
        kurtosis=kurtosis,
        n=n,
        psr=probabilistic_sharpe(sr, 0.0, n, skew, kurtosis),
        sr0=sr0,
        dsr=probabilistic_sharpe(sr, sr0, n, skew, kurtosis),
    )
