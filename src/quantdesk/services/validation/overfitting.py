"""The probabilistic and the deflated Sharpe ratio (Bailey & López de Prado).

All Sharpe ratios here are per observation (daily), never annualised; ``kurtosis`` is the
plain fourth standardised moment (3 for a normal distribution), ``skew`` the third, both of
the sample with population moments.

- PSR (*The Sharpe Ratio Efficient Frontier*, 2012): the probability that the true Sharpe
  exceeds ``sr_benchmark`` given ``n`` observations: ``Φ((SR - SR*) √(n - 1) / √(1 - g3 SR +
  (g4 - 1)/4 SR²))`` (g3 skewness, g4 kurtosis). The root's argument is floored at 1e-12
  (extreme moments can drive it below zero, where the formula means "no information").
- Expected maximum Sharpe of ``N`` independent trials with Sharpe variance ``V`` when the
  true Sharpe is 0 (*The Deflated Sharpe Ratio*, 2014, eq. 2): ``SR0 = √V ((1 - g) Φ⁻¹(1 -
  1/N) + g Φ⁻¹(1 - 1/(N e)))``, g the Euler-Mascheroni constant; 0 for ``N <= 1`` or ``V <= 0``.
- DSR: the PSR with ``SR* = SR0``: the probability that the best of all the trials tried
  is not a false discovery.
"""

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from quantdesk.domain.errors import InvalidInputError
from quantdesk.services.columns import Float64Array

EULER_GAMMA = 0.5772156649015329
_NORMAL = NormalDist()


@dataclass(frozen=True)
class SharpeStats:
    sr: float
    skew: float
    kurtosis: float
    n: int
    psr: float  # P(SR > 0)
    sr0: float  # expected maximum Sharpe of the trials
    dsr: float  # P(SR > SR0)


def probabilistic_sharpe(
    sr: float, sr_benchmark: float, n: int, skew: float, kurtosis: float
) -> float:
    if n < 2:
        raise InvalidInputError(
            "the probabilistic Sharpe ratio needs at least two observations",
            code="too_few_returns",
            data={"n": n},
        )
    spread = max(1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr * sr, 1e-12)
    return _NORMAL.cdf((sr - sr_benchmark) * math.sqrt(n - 1) / math.sqrt(spread))


def expected_max_sharpe(trials: int, variance: float) -> float:
    if trials <= 1 or variance <= 0:
        return 0.0
    first = _NORMAL.inv_cdf(1.0 - 1.0 / trials)
    second = _NORMAL.inv_cdf(1.0 - 1.0 / (trials * math.e))
    return math.sqrt(variance) * ((1.0 - EULER_GAMMA) * first + EULER_GAMMA * second)


def moments(returns: Float64Array) -> tuple[float, float, float]:
    """Sharpe (mean / std with ddof 1), skewness and kurtosis (population moments)."""
    r = np.asarray(returns, dtype=np.float64)
    if r.shape[0] < 3:
        raise InvalidInputError(
            f"{r.shape[0]} returns are too few for a Sharpe ratio's distribution (3 at least)",
            code="too_few_returns",
            data={"n": int(r.shape[0])},
        )
    std = float(r.std(ddof=1))
    if std == 0 or not math.isfinite(std):
        raise InvalidInputError(
            "the returns do not vary: their Sharpe ratio is undefined",
            code="constant_returns",
            data={"n": int(r.shape[0])},
        )
    centred = r - r.mean()
    pop = float(np.sqrt(np.mean(centred**2)))
    z = centred / pop
    return float(r.mean()) / std, float(np.mean(z**3)), float(np.mean(z**4))


def deflated_sharpe(returns: Float64Array, *, trials: int, sharpe_variance: float) -> SharpeStats:
    """PSR against 0 and DSR against the expected best of ``trials`` for the returns."""
    sr, skew, kurtosis = moments(returns)
    n = int(np.asarray(returns).shape[0])
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
