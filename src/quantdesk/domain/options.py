"""European option prices, greeks and implied volatility: generalised Black-Scholes-Merton.

One model covers both underlyings through the cost of carry ``b``:

- an option on a stock (Black-Scholes-Merton): ``b = r - q``, ``q`` the continuous dividend
  yield (0 by default: ``stock_carry(r)``);
- an option on a future (Black-76): ``b = 0`` (``FUTURE_CARRY``), ``s`` the future's price.

Conventions and units (all per one unit of the option: the caller multiplies by the contract
multiplier and the quantity):

- ``s > 0`` the underlying's price, ``k > 0`` the strike, ``t >= 0`` the time to expiry in
  years (``year_fraction``: ACT/365.25), ``sigma > 0`` the annualised volatility as a fraction
  (0.25 is 25 %), ``r`` the continuously compounded risk-free rate, ``b`` the cost of carry,
  both per year and of any sign. Every input must be finite.
- With ``F = s e^{bt}``, ``D = e^{-rt}``, ``d1 = (ln(s/k) + (b + sigma^2/2) t) / (sigma sqrt t)``
  and ``d2 = d1 - sigma sqrt t``; ``N`` the standard normal CDF (``0.5 erfc(-x/sqrt 2)``,
  accurate in both tails) and ``n`` its density:
  call ``= D (F N(d1) - k N(d2))``, put ``= D (k N(-d2) - F N(-d1))``.
- ``delta = dV/ds`` per 1 unit of underlying: call ``e^{(b-r)t} N(d1)``, put
  ``-e^{(b-r)t} N(-d1)``.
- ``gamma = d2V/ds2`` per unit of underlying squared: ``e^{(b-r)t} n(d1) / (s sigma sqrt t)``.
- ``vega = dV/dsigma`` per 1.00 of volatility (not per 1 %; divide by 100 for a point):
  ``s e^{(b-r)t} n(d1) sqrt t``.
- ``theta = -dV/dt``: the change of value per year of calendar time passing (t, the time left,
  shrinking), so a long vanilla option usually has a negative theta; divide by 365.25 for a
  calendar day. Call ``-s e^{(b-r)t} n(d1) sigma / (2 sqrt t) - (b-r) s e^{(b-r)t} N(d1)
  - r k D N(d2)``; put ``-s e^{(b-r)t} n(d1) sigma / (2 sqrt t) + (b-r) s e^{(b-r)t} N(-d1)
  + r k D N(-d2)``.
- At expiry (``t == 0``) the price is the intrinsic value and the greeks are the limits as t
  falls to 0 away from the strike: delta is the intrinsic's slope (call 1 in the money, 0 out
  of it; put -1 and 0), gamma, vega and theta are 0. At the strike itself (``s == k``) the
  intrinsic has no slope; delta is the limit of the model's delta there, 0.5 for a call and
  -0.5 for a put (the mean of the two one-sided slopes), and gamma (whose limit diverges) is
  0 like the others: nothing is left to hedge once the option has expired.

Implied volatility is solved here: the engine's own ``imply_vol`` (NautilusTrader 1.221.0)
is wrong (s=100, k=105, t=0.5, r=b=0.03: the price 5.575976644 of sigma 0.25 gives back
0.22487). The price is strictly increasing in sigma, from the discounted intrinsic
``D max(F - k, 0)`` (call; put ``D max(k - F, 0)``) as sigma falls to 0 up to ``D F`` (call;
put ``D k``) as it grows; a price outside these bounds admits an arbitrage and is refused, as
is one whose volatility lies outside ``[SIGMA_MIN, SIGMA_MAX]``. An in-the-money price is
first turned into its out-of-the-money counterpart by parity (the other kind, price minus the
discounted intrinsic): all time value, whose logarithm is close to linear in sigma. A Newton-
Raphson on ``ln(price)`` (slope ``vega / price``) keeps a bisection bracket: a step that would
leave it, or shrink slower than bisection, is replaced by the bracket's midpoint, so it
converges from any start. It stops when the price is matched to ``PRICE_TOLERANCE`` relative
(of the out-of-the-money price: stricter than of the given one), or when the bracket is as
narrow as floats allow (the price's own rounding is then the rest), at most ``MAX_ITERATIONS``.
"""

import math
from dataclasses import dataclass

from quantdesk.domain.contract_terms import OptionKind  # the instruments' own: one enum
from quantdesk.domain.errors import InvalidInputError

__all__ = [
    "FUTURE_CARRY",
    "MAX_ITERATIONS",
    "PRICE_TOLERANCE",
    "SIGMA_MAX",
    "SIGMA_MIN",
    "YEAR_NS",
    "Greeks",
    "OptionKind",
    "greeks",
    "implied_delta",
    "implied_volatility",
    "intrinsic_value",
    "norm_cdf",
    "norm_pdf",
    "price",
    "price_bounds",
    "stock_carry",
    "year_fraction",
]

FUTURE_CARRY = 0.0
"""The cost of carry of an option on a future (Black-76)."""
YEAR_NS = 31_557_600_000_000_000
"""One year of 365.25 days in nanoseconds (ACT/365.25, the year of ``year_fraction``)."""
SIGMA_MIN = 1e-6
SIGMA_MAX = 10.0
"""The bracket of ``implied_volatility``: 0.0001 % to 1000 % a year."""
PRICE_TOLERANCE = 1e-12
"""Relative: implied volatility stops once its price matches the given one this closely."""
MAX_ITERATIONS = 100

_SQRT_2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@dataclass(frozen=True, slots=True)
class Greeks:
    """The price and its sensitivities, per one unit of the option (units: module docstring)."""

    price: float
    delta: float  # per 1 unit of underlying
    gamma: float  # per unit of underlying squared
    vega: float  # per 1.00 of volatility
    theta: float  # per year of calendar time passing (-dV/dt)


def stock_carry(r: float, q: float = 0.0) -> float:
    """The cost of carry of an option on a stock paying a continuous dividend yield ``q``."""
    return r - q


def norm_cdf(x: float) -> float:
    """The standard normal CDF, accurate to full relative precision in the lower tail."""
    return 0.5 * math.erfc(-x / _SQRT_2)


def norm_pdf(x: float) -> float:
    return _INV_SQRT_2PI * math.exp(-0.5 * x * x)


def intrinsic_value(kind: OptionKind, s: float, k: float) -> float:
    """What exercising now pays per unit: ``max(s - k, 0)`` for a call, ``max(k - s, 0)`` put."""
    kind = _checked_kind(kind)
    _positive("s", s)
    _positive("k", k)
    return max(s - k, 0.0) if kind is OptionKind.CALL else max(k - s, 0.0)


def year_fraction(from_ns: int, to_ns: int) -> float:
    """Years from ``from_ns`` to ``to_ns`` (integer ns), ACT/365.25; 0.0 when they are equal.

    A negative span is an error, not a silent 0: an option priced after its expiry is a bug of
    the caller, which should settle it instead.
    """
    span = to_ns - from_ns
    if span < 0:
        raise InvalidInputError(
            f"the time to expiry is negative: from {from_ns} ns to {to_ns} ns",
            hint="price an option only up to its expiry; settle it at expiry",
            code="invalid_option_input",
            data={"from_ns": from_ns, "to_ns": to_ns},
        )
    return span / YEAR_NS  # int / int: correctly rounded


def price(
    kind: OptionKind, *, s: float, k: float, t: float, sigma: float, r: float, b: float
) -> float:
    """The option's value per unit (generalised Black-Scholes-Merton; see the module)."""
    kind = _checked_kind(kind)
    _check_inputs(s=s, k=k, t=t, sigma=sigma, r=r, b=b)
    if t == 0.0:
        return intrinsic_value(kind, s, k)
    return _price(kind, s, k, t, sigma, r, b)


def greeks(
    kind: OptionKind, *, s: float, k: float, t: float, sigma: float, r: float, b: float
) -> Greeks:
    """Price, delta, gamma, vega and theta per unit (units and t == 0: module docstring)."""
    kind = _checked_kind(kind)
    _check_inputs(s=s, k=k, t=t, sigma=sigma, r=r, b=b)
    call = kind is OptionKind.CALL
    if t == 0.0:
        return Greeks(intrinsic_value(kind, s, k), _expired_delta(call, s, k), 0.0, 0.0, 0.0)
    sqrt_t = math.sqrt(t)
    d1, d2 = _d1_d2(s, k, t, sigma, b)
    discount = math.exp(-r * t)
    carry = math.exp((b - r) * t)  # e^{(b-r)t}: the forward's discounted growth
    density = norm_pdf(d1)
    gamma = carry * density / (s * sigma * sqrt_t)
    vega = s * carry * density * sqrt_t
    decay = -s * carry * density * sigma / (2.0 * sqrt_t)
    if call:
        n1, n2 = norm_cdf(d1), norm_cdf(d2)
        value = s * carry * n1 - k * discount * n2
        delta = carry * n1
        theta = decay - (b - r) * s * carry * n1 - r * k * discount * n2
    else:
        n1, n2 = norm_cdf(-d1), norm_cdf(-d2)
        value = k * discount * n2 - s * carry * n1
        delta = -carry * n1
        theta = decay + (b - r) * s * carry * n1 + r * k * discount * n2
    return Greeks(value, delta, gamma, vega, theta)


def price_bounds(
    kind: OptionKind, *, s: float, k: float, t: float, r: float, b: float
) -> tuple[float, float]:
    """The no-arbitrage range of a European option's price: (sigma -> 0, sigma -> infinity)."""
    kind = _checked_kind(kind)
    _check_inputs(s=s, k=k, t=t, sigma=1.0, r=r, b=b)
    return _bounds(kind, s, k, t, r, b)


def _bounds(
    kind: OptionKind, s: float, k: float, t: float, r: float, b: float
) -> tuple[float, float]:
    forward = s * math.exp((b - r) * t)  # D F
    strike = k * math.exp(-r * t)  # D k
    if kind is OptionKind.CALL:
        return max(forward - strike, 0.0), forward
    return max(strike - forward, 0.0), strike


def implied_volatility(
    option_price: float,
    kind: OptionKind,
    *,
    s: float,
    k: float,
    t: float,
    r: float,
    b: float,
    max_iterations: int = MAX_ITERATIONS,
) -> float:
    """The volatility whose model price is ``option_price`` (solver and bounds: module).

    Raises InvalidInputError for a price outside the no-arbitrage bounds, a volatility outside
    ``[SIGMA_MIN, SIGMA_MAX]``, ``t == 0`` (nothing left to imply) or no convergence.
    """
    kind = _checked_kind(kind)
    _check_inputs(s=s, k=k, t=t, sigma=1.0, r=r, b=b)
    return _implied(option_price, kind, s, k, t, r, b, max_iterations)


def implied_delta(
    option_price: float, kind: OptionKind, *, s: float, k: float, t: float, r: float, b: float
) -> float:
    """The delta at the volatility implied from ``option_price``, that volatility held to
    ``[SIGMA_MIN, SIGMA_MAX]``: a price at or below the ``SIGMA_MIN`` price is valued there, one
    the top does not reach at ``SIGMA_MAX``; at ``t == 0`` the intrinsic's slope. Bit for bit
    ``greeks(sigma=implied_volatility(...)).delta``, the inputs checked once (the risk gate
    asks per order). Raises InvalidInputError for a price at or above the no-arbitrage top."""
    kind = _checked_kind(kind)
    _check_inputs(s=s, k=k, t=t, sigma=1.0, r=r, b=b)
    call = kind is OptionKind.CALL
    if t == 0.0:
        return _expired_delta(call, s, k)
    if option_price <= _price(kind, s, k, t, SIGMA_MIN, r, b):
        sigma = SIGMA_MIN
    else:
        try:
            sigma = _implied(option_price, kind, s, k, t, r, b, MAX_ITERATIONS)
        except InvalidInputError as error:
            if error.code != "implied_volatility_out_of_range":
                raise
            sigma = SIGMA_MAX  # the floor is handled above: this is past the top
    d1, _ = _d1_d2(s, k, t, sigma, b)
    carry = math.exp((b - r) * t)
    return carry * norm_cdf(d1) if call else -carry * norm_cdf(-d1)  # greeks' expressions


def _expired_delta(call: bool, s: float, k: float) -> float:
    if s == k:
        return 0.5 if call else -0.5
    if call:
        return 1.0 if s > k else 0.0
    return -1.0 if s < k else 0.0


def _implied(
    option_price: float,
    kind: OptionKind,
    s: float,
    k: float,
    t: float,
    r: float,
    b: float,
    max_iterations: int,
) -> float:
    _finite("option_price", option_price)
    if t == 0.0:
        raise InvalidInputError(
            "an implied volatility needs a time to expiry above 0, got t=0.0",
            hint="an expired option is worth its intrinsic value whatever the volatility",
            code="invalid_option_input",
            data={"field": "t", "value": t},
        )
    low, high = _bounds(kind, s, k, t, r, b)
    if not low < option_price < high:
        raise InvalidInputError(
            f"the option price {option_price!r} is outside its no-arbitrage bounds "
            f"({low!r}, {high!r}) for a {kind} with s={s!r}, k={k!r}, t={t!r}, r={r!r}, b={b!r}",
            hint="check the price, the strike, the rates and the time to expiry",
            code="option_price_out_of_bounds",
            data={"option_price": option_price, "lower_bound": low, "upper_bound": high},
        )
    # Solve on the out-of-the-money side (parity: the other kind's price, without the
    # intrinsic): its price is all time value, so its logarithm is a good Newton variable.
    otm_kind, target = kind, option_price - low
    if low > 0.0:
        otm_kind = OptionKind.PUT if kind is OptionKind.CALL else OptionKind.CALL
    sigma_low, sigma_high = SIGMA_MIN, SIGMA_MAX
    price_low = _price(otm_kind, s, k, t, sigma_low, r, b)
    price_high = _price(otm_kind, s, k, t, sigma_high, r, b)
    if not (target > 0.0 and price_low <= target <= price_high):
        raise InvalidInputError(
            f"the option price {option_price!r} implies a volatility outside "
            f"[{SIGMA_MIN}, {SIGMA_MAX}]: prices there run from {price_low + low!r} to "
            f"{price_high + low!r}",
            hint="check the price against the underlying's and the strike's",
            code="implied_volatility_out_of_range",
            data={"option_price": option_price, "sigma_min": SIGMA_MIN, "sigma_max": SIGMA_MAX},
        )
    sigma = _start(s, k, t, r, b, target)
    step = previous_step = sigma_high - sigma_low
    for _ in range(max_iterations):
        value, vega = _price_vega(otm_kind, s, k, t, sigma, r, b)
        if abs(value - target) <= PRICE_TOLERANCE * target:
            return sigma
        if value > target:
            sigma_high = sigma
        else:
            sigma_low = sigma
        if sigma_high - sigma_low <= 4.0 * math.ulp(sigma_high):
            return sigma  # as close as floats allow: the price's own rounding is the rest
        # Newton on ln(price): ln(value / target) / (vega / value); bisect where it would
        # leave the bracket or shrink slower than bisection would (the step before last / 2).
        newton = (
            sigma - math.log(value / target) * value / vega if value > 0.0 and vega > 0.0 else -1.0
        )
        previous_step, step = step, abs(newton - sigma)
        if not sigma_low < newton < sigma_high or step > 0.5 * previous_step:
            newton = 0.5 * (sigma_low + sigma_high)
            step = 0.5 * (sigma_high - sigma_low)
        sigma = newton
    raise InvalidInputError(
        f"the implied volatility of the price {option_price!r} did not converge in "
        f"{max_iterations} iterations (last bracket [{sigma_low!r}, {sigma_high!r}])",
        hint="check the inputs; the price may be too close to its bounds to imply a volatility",
        code="implied_volatility_not_converged",
        data={"option_price": option_price, "sigma_low": sigma_low, "sigma_high": sigma_high},
    )


def _start(s: float, k: float, t: float, r: float, b: float, time_value: float) -> float:
    """A first guess: Corrado and Miller's closed-form approximation (exact enough near the
    money, a start elsewhere), clamped into the bracket."""
    forward = s * math.exp((b - r) * t)  # both discounted
    strike = k * math.exp(-r * t)
    gap = abs(forward - strike)
    middle = time_value + 0.5 * gap
    root = math.sqrt(max(middle * middle - gap * gap / math.pi, 0.0))
    guess = math.sqrt(2.0 * math.pi / t) * (middle + root) / (forward + strike)
    return min(max(guess, 1e-3), SIGMA_MAX / 2.0)


def _price_vega(
    kind: OptionKind, s: float, k: float, t: float, sigma: float, r: float, b: float
) -> tuple[float, float]:
    d1, _ = _d1_d2(s, k, t, sigma, b)
    vega = s * math.exp((b - r) * t) * norm_pdf(d1) * math.sqrt(t)
    return _price(kind, s, k, t, sigma, r, b), vega


def _d1_d2(s: float, k: float, t: float, sigma: float, b: float) -> tuple[float, float]:
    spread = sigma * math.sqrt(t)
    d1 = (math.log(s / k) + (b + 0.5 * sigma * sigma) * t) / spread
    return d1, d1 - spread


def _price(
    kind: OptionKind, s: float, k: float, t: float, sigma: float, r: float, b: float
) -> float:
    d1, d2 = _d1_d2(s, k, t, sigma, b)
    forward = s * math.exp((b - r) * t)
    strike = k * math.exp(-r * t)
    if kind is OptionKind.CALL:
        return forward * norm_cdf(d1) - strike * norm_cdf(d2)
    return strike * norm_cdf(-d2) - forward * norm_cdf(-d1)


def _checked_kind(kind: OptionKind) -> OptionKind:
    """The member itself: the code compares by identity, so a plain ``"call"`` string (equal
    to the member, not it) would otherwise price as a put."""
    if kind is OptionKind.CALL or kind is OptionKind.PUT:
        return kind
    try:
        return OptionKind(kind)
    except ValueError:
        raise InvalidInputError(
            f"an option kind is 'call' or 'put', got {kind!r}",
            code="invalid_option_input",
            data={"field": "kind", "value": str(kind)},
        ) from None


def _check_inputs(*, s: float, k: float, t: float, sigma: float, r: float, b: float) -> None:
    _positive("s", s)
    _positive("k", k)
    _positive("sigma", sigma)
    _finite("t", t)
    if t < 0.0:
        raise InvalidInputError(
            f"the time to expiry t must not be negative, got {t!r}",
            hint="price an option only up to its expiry",
            code="invalid_option_input",
            data={"field": "t", "value": t},
        )
    _finite("r", r)
    _finite("b", b)


def _positive(field: str, value: float) -> None:
    _finite(field, value)
    if value <= 0.0:
        raise InvalidInputError(
            f"{field} must be above 0, got {value!r}",
            code="invalid_option_input",
            data={"field": field, "value": value},
        )


def _finite(field: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInputError(
            f"{field} must be a finite number, got {value!r}",
            code="invalid_option_input",
            data={"field": field, "value": repr(value)},
        )
