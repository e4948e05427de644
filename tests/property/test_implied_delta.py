"""``implied_delta``, the risk gate's one-call delta, against the composition it replaces.

The gate values an option by its delta at the volatility implied from its last close, once
per order. ``implied_delta`` checks the inputs once instead of in each of ``price``,
``implied_volatility`` (and its bounds) and ``greeks``; it must give the very same float, in
each of its regions: expired, at or below the ``SIGMA_MIN`` price, solved, past ``SIGMA_MAX``.
"""

from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.options import (
    FUTURE_CARRY,
    SIGMA_MAX,
    SIGMA_MIN,
    OptionKind,
    greeks,
    implied_delta,
    implied_volatility,
    price,
    price_bounds,
    stock_carry,
)

kinds = st.sampled_from(list(OptionKind))
times = st.one_of(st.just(0.0), st.floats(1 / (365 * 24 * 60), 3.0))  # 0: expired
moneyness = st.floats(0.5, 2.0)  # k / s
underlyings = st.floats(1.0, 1000.0)
rates = st.floats(-0.02, 0.10)
dividends = st.one_of(st.none(), st.floats(0.0, 0.05))  # None: Black-76
where = st.floats(-0.1, 1.1)  # the price's place between its bounds (outside: clamped)


def composed(kind: OptionKind, p: float, s: float, k: float, t: float, r: float, b: float) -> float:
    """The gate's delta before ``implied_delta``: price, implied volatility, greeks."""
    if t == 0.0:
        sigma = 1.0
    elif p <= price(kind, s=s, k=k, t=t, sigma=SIGMA_MIN, r=r, b=b):
        sigma = SIGMA_MIN
    else:
        try:
            sigma = implied_volatility(p, kind, s=s, k=k, t=t, r=r, b=b)
        except InvalidInputError as error:
            if error.code != "implied_volatility_out_of_range":
                raise
            sigma = SIGMA_MAX
    return greeks(kind, s=s, k=k, t=t, sigma=sigma, r=r, b=b).delta


@settings(max_examples=400, deadline=None)
@given(kinds, underlyings, moneyness, times, rates, dividends, where)
def test_implied_delta_is_the_composed_delta_bit_for_bit(
    kind: OptionKind, s: float, m: float, t: float, r: float, q: float | None, at: float
) -> None:
    # Property: implied_delta(p) is the very float greeks(implied_volatility(p)).delta gives
    # (clamped to [SIGMA_MIN, SIGMA_MAX]), or both refuse the price with the same code.
    k = s * m
    b = FUTURE_CARRY if q is None else stock_carry(r, q)
    low, high = price_bounds(kind, s=s, k=k, t=t, r=r, b=b)
    p = max(low + at * (high - low), 1e-12)
    try:
        expected: float | str = composed(kind, p, s, k, t, r, b)
    except InvalidInputError as error:
        expected = error.code
    try:
        got: float | str = implied_delta(p, kind, s=s, k=k, t=t, r=r, b=b)
    except InvalidInputError as error:
        got = error.code
    assert repr(got) == repr(expected)


def test_implied_delta_checks_its_inputs() -> None:
    # a bad input is refused as the composed path refused it, naming the field
    for bad in ({"s": float("nan")}, {"k": -1.0}, {"t": -0.1}, {"r": float("inf")}):
        inputs = {"s": 100.0, "k": 100.0, "t": 0.5, "r": 0.0, "b": 0.0, **bad}
        try:
            implied_delta(5.0, OptionKind.CALL, **inputs)
        except InvalidInputError as error:
            assert error.data["field"] == next(iter(bad))
        else:
            raise AssertionError(f"accepted {bad}")
