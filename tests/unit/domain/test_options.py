"""Option prices and greeks against an independent closed form, finite differences and parity.

The reference below is written in the forward form of Black-76 (``F = s e^{bt}``, discounted
by ``e^{-rt}``) with scipy's normal distribution, and its theta from ``-dV/dt`` of that form
(``r V - D b F N(d1) - D F n(d1) sigma / (2 sqrt t)`` for a call), so it shares neither the
module's expressions nor its normal CDF.
"""

import functools
import itertools
import math
from dataclasses import dataclass

import pytest
from scipy.stats import norm

from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.options import (
    FUTURE_CARRY,
    SIGMA_MAX,
    SIGMA_MIN,
    YEAR_NS,
    Greeks,
    OptionKind,
    greeks,
    implied_volatility,
    intrinsic_value,
    price,
    price_bounds,
    stock_carry,
    year_fraction,
)

CALL, PUT = OptionKind.CALL, OptionKind.PUT
DAY_NS = 86_400_000_000_000


@dataclass(frozen=True)
class Model:
    """A name and the carry for a rate: BS on a stock (with a dividend yield) or Black-76."""

    name: str
    q: float | None  # None: Black-76 (b = 0)

    def carry(self, r: float) -> float:
        return FUTURE_CARRY if self.q is None else stock_carry(r, self.q)


MODELS = (Model("bs", 0.0), Model("bs-dividend", 0.02), Model("black76", None))
STRIKES = (60.0, 95.0, 100.0, 105.0, 150.0)
TIMES = (0.01, 0.5, 2.0)
SIGMAS = (0.1, 0.3, 0.8)
RATES = (0.03, -0.01)


def reference(
    kind: OptionKind, s: float, k: float, t: float, sigma: float, r: float, b: float
) -> Greeks:
    forward = s * math.exp(b * t)
    discount = math.exp(-r * t)
    root_t = math.sqrt(t)
    d1 = math.log(forward / k) / (sigma * root_t) + sigma * root_t / 2
    d2 = d1 - sigma * root_t
    growth = discount * math.exp(b * t)  # d forward / d s, discounted
    gamma = growth * norm.pdf(d1) / (s * sigma * root_t)
    vega = discount * forward * norm.pdf(d1) * root_t
    decay = discount * forward * norm.pdf(d1) * sigma / (2 * root_t)
    if kind is CALL:
        value = discount * (forward * norm.cdf(d1) - k * norm.cdf(d2))
        delta = growth * norm.cdf(d1)
        theta = r * value - discount * b * forward * norm.cdf(d1) - decay
    else:
        value = discount * (k * norm.cdf(-d2) - forward * norm.cdf(-d1))
        delta = -growth * norm.cdf(-d1)
        theta = r * value + discount * b * forward * norm.cdf(-d1) - decay
    return Greeks(float(value), float(delta), float(gamma), float(vega), float(theta))


def grid() -> list[tuple[float, float, float, float]]:
    return list(itertools.product(STRIKES, TIMES, SIGMAS, RATES))


def close(ours: float, theirs: float, rel: float, scale: float) -> bool:
    """Relative, or absolute against ``scale`` for values near 0."""
    return math.isclose(ours, theirs, rel_tol=rel, abs_tol=rel * scale)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
@pytest.mark.parametrize("kind", list(OptionKind))
def test_price_and_greeks_equal_the_closed_form(model: Model, kind: OptionKind) -> None:
    s = 100.0
    wrong = []
    for k, t, sigma, r in grid():
        b = model.carry(r)
        ours = greeks(kind, s=s, k=k, t=t, sigma=sigma, r=r, b=b)
        theirs = reference(kind, s, k, t, sigma, r, b)
        scales = {"price": s, "delta": 1.0, "gamma": 1.0 / s, "vega": s, "theta": s}
        for field, scale in scales.items():
            if not close(getattr(ours, field), getattr(theirs, field), 1e-12, 1e-3 * scale):
                wrong.append((k, t, sigma, r, field, getattr(ours, field), getattr(theirs, field)))
        assert price(kind, s=s, k=k, t=t, sigma=sigma, r=r, b=b) == ours.price  # same bits
    assert wrong == []


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
@pytest.mark.parametrize("kind", list(OptionKind))
def test_greeks_equal_central_differences_of_the_price(model: Model, kind: OptionKind) -> None:
    s = 100.0
    wrong = []
    for k, t, sigma, r in grid():
        b = model.carry(r)

        value = functools.partial(price, kind, s=s, k=k, t=t, sigma=sigma, r=r, b=b)
        g = greeks(kind, s=s, k=k, t=t, sigma=sigma, r=r, b=b)
        hs, hv, ht = 1e-4 * s, 1e-5, 1e-5 * t
        numeric = {
            "delta": (value(s=s + hs) - value(s=s - hs)) / (2 * hs),
            "gamma": (value(s=s + hs) - 2 * value() + value(s=s - hs)) / hs**2,
            "vega": (value(sigma=sigma + hv) - value(sigma=sigma - hv)) / (2 * hv),
            "theta": -(value(t=t + ht) - value(t=t - ht)) / (2 * ht),  # t is the time left
        }
        for field, estimate in numeric.items():
            if not math.isclose(getattr(g, field), estimate, rel_tol=1e-5, abs_tol=1e-6):
                wrong.append((k, t, sigma, r, field, getattr(g, field), estimate))
    assert wrong == []


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_put_call_parity(model: Model) -> None:
    for s, (k, t, sigma, r) in itertools.product((1.0, 100.0, 1000.0), grid()):
        k = k * s / 100.0
        b = model.carry(r)
        call = price(CALL, s=s, k=k, t=t, sigma=sigma, r=r, b=b)
        put = price(PUT, s=s, k=k, t=t, sigma=sigma, r=r, b=b)
        forward = s * math.exp(b * t)
        assert abs((call - put) - math.exp(-r * t) * (forward - k)) <= 1e-9


def test_the_price_of_a_known_case() -> None:
    """The brief's case: s=100, k=105, t=0.5, r=b=0.03, sigma 0.25."""
    value = price(CALL, s=100.0, k=105.0, t=0.5, sigma=0.25, r=0.03, b=0.03)
    assert value == pytest.approx(5.575976644, abs=1e-9)
    assert implied_volatility(value, CALL, s=100.0, k=105.0, t=0.5, r=0.03, b=0.03) == (
        pytest.approx(0.25, rel=1e-12)
    )


@pytest.mark.parametrize(
    ("kind", "s", "value", "delta"),
    [
        (CALL, 120.0, 20.0, 1.0),
        (CALL, 80.0, 0.0, 0.0),
        (CALL, 100.0, 0.0, 0.5),
        (PUT, 80.0, 20.0, -1.0),
        (PUT, 120.0, 0.0, 0.0),
        (PUT, 100.0, 0.0, -0.5),
    ],
)
def test_at_expiry_the_price_is_the_intrinsic_value(
    kind: OptionKind, s: float, value: float, delta: float
) -> None:
    assert intrinsic_value(kind, s, 100.0) == value
    assert price(kind, s=s, k=100.0, t=0.0, sigma=0.3, r=0.05, b=0.02) == value
    expired = greeks(kind, s=s, k=100.0, t=0.0, sigma=0.3, r=0.05, b=0.02)
    assert expired == Greeks(value, delta, 0.0, 0.0, 0.0)


@pytest.mark.parametrize("kind", list(OptionKind))
@pytest.mark.parametrize("s", [80.0, 120.0])
def test_just_before_expiry_the_price_and_delta_approach_their_limits(
    kind: OptionKind, s: float
) -> None:
    near = greeks(kind, s=s, k=100.0, t=1e-9, sigma=0.3, r=0.05, b=0.02)
    expired = greeks(kind, s=s, k=100.0, t=0.0, sigma=0.3, r=0.05, b=0.02)
    assert near.price == pytest.approx(expired.price, abs=1e-6)
    assert near.delta == pytest.approx(expired.delta, abs=1e-6)


# Implied volatility


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
@pytest.mark.parametrize("kind", list(OptionKind))
def test_implied_volatility_inverts_the_price_on_a_grid(model: Model, kind: OptionKind) -> None:
    s = 100.0
    for k, t, sigma, r in grid():
        b = model.carry(r)
        value = price(kind, s=s, k=k, t=t, sigma=sigma, r=r, b=b)
        vega = greeks(kind, s=s, k=k, t=t, sigma=sigma, r=r, b=b).vega
        if vega * sigma < 1e-2 * value or vega * sigma < 1e-6 * s:
            continue  # the price does not pin sigma down (see the property test)
        solved = implied_volatility(value, kind, s=s, k=k, t=t, r=r, b=b)
        assert solved == pytest.approx(sigma, rel=1e-9), (k, t, sigma, r)


@pytest.mark.parametrize("kind", list(OptionKind))
def test_a_price_outside_the_no_arbitrage_bounds_is_refused(kind: OptionKind) -> None:
    inputs = {"s": 100.0, "k": 105.0, "t": 0.5, "r": 0.03, "b": 0.01}
    low, high = price_bounds(kind, **inputs)
    for outside in (low, low - 1e-6, -1.0, high, high + 1e-6, 1e6):
        with pytest.raises(InvalidInputError) as raised:
            implied_volatility(outside, kind, **inputs)
        assert raised.value.code == "option_price_out_of_bounds"
        assert repr(outside) in raised.value.message
        assert repr(low) in raised.value.message and repr(high) in raised.value.message
        assert raised.value.data["lower_bound"] == low
        assert raised.value.data["upper_bound"] == high


def test_the_bounds_are_the_discounted_intrinsic_and_the_discounted_underlying_or_strike() -> None:
    r, b, t = 0.05, 0.02, 2.0
    forward, discount = 100.0 * math.exp(b * t), math.exp(-r * t)
    call = price_bounds(CALL, s=100.0, k=90.0, t=t, r=r, b=b)
    put = price_bounds(PUT, s=100.0, k=110.0, t=t, r=r, b=b)
    assert call == pytest.approx((discount * (forward - 90.0), discount * forward), rel=1e-15)
    assert put == pytest.approx((discount * (110.0 - forward), discount * 110.0), rel=1e-15)
    assert price_bounds(CALL, s=100.0, k=200.0, t=t, r=r, b=b)[0] == 0.0


def test_a_volatility_outside_the_bracket_is_refused() -> None:
    inputs = {"s": 100.0, "k": 100.0, "t": 0.5, "r": 0.0, "b": 0.0}
    for sigma in (SIGMA_MIN / 10, SIGMA_MAX * 2):
        value = price(CALL, sigma=sigma, **inputs)
        with pytest.raises(InvalidInputError) as raised:
            implied_volatility(value, CALL, **inputs)
        assert raised.value.code == "implied_volatility_out_of_range"
        assert repr(value) in raised.value.message


def test_non_convergence_is_an_error() -> None:
    inputs = {"s": 100.0, "k": 130.0, "t": 0.5, "r": 0.03, "b": 0.03}
    value = price(CALL, sigma=0.9, **inputs)
    with pytest.raises(InvalidInputError) as raised:
        implied_volatility(value, CALL, max_iterations=1, **inputs)
    assert raised.value.code == "implied_volatility_not_converged"
    assert implied_volatility(value, CALL, **inputs) == pytest.approx(0.9, rel=1e-12)


def test_an_expired_option_has_no_implied_volatility() -> None:
    with pytest.raises(InvalidInputError, match=r"t=0\.0"):
        implied_volatility(1.0, CALL, s=100.0, k=100.0, t=0.0, r=0.0, b=0.0)


# Inputs and helpers

VALID = {"s": 100.0, "k": 100.0, "t": 0.5, "sigma": 0.2, "r": 0.01, "b": 0.01}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        *[(f, v) for f in ("s", "k", "sigma") for v in (0.0, -1.0, math.nan, math.inf)],
        ("t", -1e-9),
        ("t", math.nan),
        ("t", math.inf),
        ("r", math.nan),
        ("r", -math.inf),
        ("b", math.inf),
    ],
)
def test_invalid_inputs_are_refused_naming_the_field_and_value(field: str, value: float) -> None:
    inputs = VALID | {field: value}
    for call in (price, greeks):
        with pytest.raises(InvalidInputError) as raised:
            call(CALL, **inputs)
        assert raised.value.code == "invalid_option_input"
        assert field in raised.value.message and repr(value) in raised.value.message
        assert raised.value.data["field"] == field
    if field != "sigma":
        solve = {f: v for f, v in inputs.items() if f != "sigma"}
        with pytest.raises(InvalidInputError, match=field):
            implied_volatility(5.0, CALL, **solve)


def test_the_kind_is_the_instruments_own_enum_and_a_plain_string_is_read_as_it() -> None:
    from quantdesk.domain import contract_terms

    assert OptionKind is contract_terms.OptionKind
    inputs = {"s": 100.0, "k": 90.0, "t": 0.5, "sigma": 0.2, "r": 0.01, "b": 0.01}
    assert price("call", **inputs) == price(CALL, **inputs)  # type: ignore[arg-type]
    assert intrinsic_value("put", 80.0, 100.0) == 20.0  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="'straddle'") as raised:
        greeks("straddle", **inputs)  # type: ignore[arg-type]
    assert raised.value.data == {"field": "kind", "value": "straddle"}


def test_a_non_finite_option_price_is_refused() -> None:
    solve = {f: v for f, v in VALID.items() if f != "sigma"}
    with pytest.raises(InvalidInputError, match="option_price"):
        implied_volatility(math.nan, PUT, **solve)


def test_year_fraction_is_act_365_25_from_integer_nanoseconds() -> None:
    start = 1_700_000_000_000_000_000
    assert year_fraction(start, start) == 0.0
    assert year_fraction(start, start + YEAR_NS) == 1.0
    assert year_fraction(start, start + DAY_NS) == 1 / 365.25
    assert year_fraction(0, 4 * 365 * DAY_NS + DAY_NS) == 4.0


def test_a_negative_year_fraction_is_an_error_not_zero() -> None:
    with pytest.raises(InvalidInputError) as raised:
        year_fraction(2_000, 1_000)
    assert "2000" in raised.value.message and "1000" in raised.value.message
    assert raised.value.data == {"from_ns": 2_000, "to_ns": 1_000}
    with pytest.raises(InvalidInputError):
        year_fraction(1, 0)  # one nanosecond after expiry is already too late


def test_intrinsic_value_refuses_a_non_positive_price() -> None:
    with pytest.raises(InvalidInputError, match="s must be above 0"):
        intrinsic_value(CALL, 0.0, 100.0)
