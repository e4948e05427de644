"""Properties of the option model: implied volatility inverts the price, put-call parity, and
the price stays within its no-arbitrage bounds.

Both models are drawn: Black-Scholes on a stock (``b = r - q``) and Black-76 (``b = 0``).
"""

import math

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from quantdesk.domain.options import (
    FUTURE_CARRY,
    OptionKind,
    greeks,
    implied_volatility,
    price,
    price_bounds,
    stock_carry,
)

kinds = st.sampled_from(list(OptionKind))
sigmas = st.floats(0.01, 3.0)
times = st.floats(1 / 365, 5.0)
moneyness = st.floats(0.5, 2.0)  # k / s
underlyings = st.floats(1.0, 1000.0)
rates = st.floats(-0.02, 0.10)
dividends = st.one_of(st.none(), st.floats(0.0, 0.05))  # None: Black-76


def carry(r: float, q: float | None) -> float:
    return FUTURE_CARRY if q is None else stock_carry(r, q)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(kinds, underlyings, moneyness, times, sigmas, rates, dividends)
def test_implied_volatility_inverts_the_price(
    kind: OptionKind, s: float, m: float, t: float, sigma: float, r: float, q: float | None
) -> None:
    # Property: implied volatility inverts the price.
    # Filter: only where the price determines sigma, i.e. a 1 % change of sigma moves the
    # price by at least 1e-4 of itself (vega * sigma >= 1e-2 * price) and by at least 1e-8 of
    # the underlying (vega * sigma >= 1e-6 * s, above the price's float rounding). Elsewhere
    # (deep in the money at low volatility) the price is its bound to ~1e-12 and many sigmas
    # give the same float; there the solver's answer only has to reprice.
    k, b = s * m, carry(r, q)
    g = greeks(kind, s=s, k=k, t=t, sigma=sigma, r=r, b=b)
    low, high = price_bounds(kind, s=s, k=k, t=t, r=r, b=b)
    assume(low < g.price < high)
    solved = implied_volatility(g.price, kind, s=s, k=k, t=t, r=r, b=b)
    repriced = price(kind, s=s, k=k, t=t, sigma=solved, r=r, b=b)
    assert math.isclose(repriced, g.price, rel_tol=1e-9, abs_tol=1e-12 * s)
    if g.vega * sigma >= 1e-2 * g.price and g.vega * sigma >= 1e-6 * s:
        assert math.isclose(solved, sigma, rel_tol=1e-7), (solved, sigma)


@settings(max_examples=200, deadline=None)
@given(underlyings, moneyness, times, sigmas, rates, dividends)
def test_put_call_parity(
    s: float, m: float, t: float, sigma: float, r: float, q: float | None
) -> None:
    # Property: put-call parity, C - P = e^{-rt} (F - K) with F = s e^{bt}, within 1e-9.
    k, b = s * m, carry(r, q)
    call = price(OptionKind.CALL, s=s, k=k, t=t, sigma=sigma, r=r, b=b)
    put = price(OptionKind.PUT, s=s, k=k, t=t, sigma=sigma, r=r, b=b)
    assert abs((call - put) - math.exp(-r * t) * (s * math.exp(b * t) - k)) <= 1e-9


@settings(max_examples=200, deadline=None)
@given(kinds, underlyings, moneyness, times, sigmas, rates, dividends)
def test_the_price_lies_within_its_no_arbitrage_bounds(
    kind: OptionKind, s: float, m: float, t: float, sigma: float, r: float, q: float | None
) -> None:
    # Property: a model price lies within the no-arbitrage bounds implied_volatility enforces,
    # and its delta, gamma and vega have the signs of a long option.
    k, b = s * m, carry(r, q)
    g = greeks(kind, s=s, k=k, t=t, sigma=sigma, r=r, b=b)
    low, high = price_bounds(kind, s=s, k=k, t=t, r=r, b=b)
    slack = 1e-12 * (s + k)  # rounding of the bounds' own subtraction
    assert low - slack <= g.price <= high + slack
    assert (g.delta >= 0.0) if kind is OptionKind.CALL else (g.delta <= 0.0)
    assert g.gamma >= 0.0 and g.vega >= 0.0
