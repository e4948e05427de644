"""Our option greeks against the engine's ``black_scholes_greeks`` (NautilusTrader 1.221.0).

The engine's conventions, measured here: every value is scaled by its ``multiplier``
argument, vega is per 1 % of volatility (ours / 100) and theta per calendar day of 365.25
(ours / 365.25), with the same sign (``-dV/dt``). Its gamma and vega equal ours to rounding;
its price and delta carry the error of its normal CDF, about 2e-9 absolute (so a deep
out-of-the-money price, ~1e-8, can come out negative there), hence the absolute tolerances
below. The engine's ``imply_vol`` is not compared: it is wrong (see quantdesk.domain.options).
"""

import itertools
import math

import pytest
from nautilus_trader.core import nautilus_pyo3

from quantdesk.domain.options import FUTURE_CARRY, OptionKind, greeks, stock_carry

ENGINE_CDF_ERROR = 5e-9  # absolute, measured at ~1.6e-9 over the grid below
CASES = list(
    itertools.product(
        (60.0, 95.0, 100.0, 105.0, 150.0),  # strike, s = 100
        (0.01, 0.5, 2.0),  # t
        (0.1, 0.3, 0.8),  # sigma
        (0.03, -0.01),  # r
        (0.0, 0.02, None),  # dividend yield, None: Black-76
    )
)


@pytest.mark.parametrize("kind", list(OptionKind))
@pytest.mark.parametrize("multiplier", [1.0, 100.0])
def test_price_and_greeks_equal_the_engine_in_its_units(
    kind: OptionKind, multiplier: float
) -> None:
    s = 100.0
    wrong = []
    for k, t, sigma, r, q in CASES:
        b = FUTURE_CARRY if q is None else stock_carry(r, q)
        ours = greeks(kind, s=s, k=k, t=t, sigma=sigma, r=r, b=b)
        engine = nautilus_pyo3.black_scholes_greeks(
            s, r, b, sigma, kind is OptionKind.CALL, k, t, multiplier
        )
        checks = {
            "price": (ours.price, engine.price, 0.0, ENGINE_CDF_ERROR * (s + k)),
            "delta": (ours.delta, engine.delta, 0.0, ENGINE_CDF_ERROR),
            "gamma": (ours.gamma, engine.gamma, 1e-12, 0.0),
            "vega": (ours.vega / 100.0, engine.vega, 1e-12, 0.0),
            "theta": (ours.theta / 365.25, engine.theta, 1e-9, ENGINE_CDF_ERROR * (s + k) / 365),
        }
        for field, (mine, theirs, rel, absolute) in checks.items():
            scaled = mine * multiplier
            if not math.isclose(scaled, theirs, rel_tol=rel, abs_tol=absolute * multiplier):
                wrong.append((k, t, sigma, r, q, field, scaled, theirs))
    assert wrong == []
