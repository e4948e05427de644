"""The risk guard's valuation: every instrument's base-currency unit value at this instant.

What ``domain/risk_values.py`` defines, fed from the engine: each instrument's spec (asset
class, multiplier, quote currency, an option's terms), its last close, the quote-to-base rate
(``RateOf``), and for an option its delta, with the volatility implied from the option's last
close, the underlying's last close, the time to expiry from the clock and a risk-free rate of
0 (``risk_free_rate``; a venue or request rate may come later), Black-76 when the underlying
is a future, Black-Scholes otherwise.

Nothing unknown is guessed: an instrument with no rate for its currency yet, an option whose
underlying has no price or whose price no volatility explains, is *unvalued*, and the gate
denies an order that needs it with the reason (``"no rate for JPY->USD"``), never valuing it
at 0 or at a rate of 1.

Instruments in the base currency with a multiplier of 1 (equities, most of today's runs) are
*plain*: their unit value is their price, and the gate keeps its old path for them.
"""

from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal

from quantdesk.domain.errors import QuantdeskError
from quantdesk.domain.instruments import AssetClass, InstrumentSpec
from quantdesk.domain.risk_values import option_delta, pnl_currency, premium_per_unit, unit_value

RateOf = Callable[[str, str], float | None]
"""(instrument id, currency) -> one unit of the currency in the base currency of the
instrument's account, now; None when no rate is known yet."""
Mark = Callable[[str], Decimal | None]
"""instrument id -> its last close (quote currency), None before its first bar."""


def base_only(base_currencies: Mapping[str, str]) -> RateOf:
    """The rate source of a run that converts nothing: 1 for a venue's base currency, no rate
    for any other (an order needing one is denied, naming the pair)."""

    def rate(instrument_id: str, currency: str) -> float | None:
        return 1.0 if base_currencies.get(instrument_id) == currency else None

    return rate


class UnvaluedError(Exception):
    """Why an instrument has no unit value now (the gate's denial reason)."""

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(detail)
        self.rule = rule
        self.detail = detail


class UnitValues:
    """Unit values, premiums and per-unit PnL values of a run's instruments, now."""

    def __init__(
        self,
        specs: Mapping[str, InstrumentSpec],
        base_currencies: Mapping[str, str],
        rate_of: RateOf,
        mark: Mark,
        risk_free_rate: float = 0.0,
    ) -> None:
        self._specs = dict(specs)
        self._bases = dict(base_currencies)
        self._rate_of = rate_of
        self._mark = mark
        self._r = risk_free_rate
        self.classes: dict[str, AssetClass] = {i: s.asset_class for i, s in specs.items()}
        self._plain = {
            i
            for i, s in specs.items()
            if s.asset_class is not AssetClass.OPTION
            and not s.is_inverse
            and s.multiplier == 1
            and s.currency == base_currencies.get(i)
        }
        self.options = {i for i, s in specs.items() if s.asset_class is AssetClass.OPTION}
        # the ledger's per-fill and per-order reads, resolved once (not per call)
        self._pnl_currencies = {i: pnl_currency(s) for i, s in specs.items()}
        self._per_unit = {i: (float(s.multiplier), s.is_inverse) for i, s in specs.items()}
        self._deltas: dict[str, tuple[tuple[Decimal, Decimal, int], Decimal]] = {}

    @property
    def all_plain(self) -> bool:
        """Every instrument is valued at its price: the gate needs no unit values at all."""
        return len(self._plain) == len(self._specs)

    def is_plain(self, instrument_id: str) -> bool:
        return instrument_id in self._plain or instrument_id not in self._specs

    def rate(self, instrument_id: str, currency: str) -> Decimal:
        """One unit of ``currency`` in the instrument's base currency now, or ``UnvaluedError``."""
        base = self._bases.get(instrument_id)
        if currency == base:
            return Decimal(1)
        found = self._rate_of(instrument_id, currency)
        if found is None or not found > 0:
            raise UnvaluedError(
                "no_rate", f"no rate for {currency}->{base} yet to value {instrument_id}"
            )
        return Decimal(repr(found))

    def unit(self, instrument_id: str, price: Decimal, now_ns: int) -> Decimal:
        """Signed base-currency exposure of one unit at ``price`` (an option's: its delta at
        the marks now), or ``UnvaluedError``."""
        spec = self._specs.get(instrument_id)
        if spec is None or instrument_id in self._plain:
            return price
        rate = self.rate(instrument_id, spec.currency)
        if spec.asset_class is not AssetClass.OPTION:
            return unit_value(spec, price, rate)
        underlying = self._underlying_price(spec)
        delta = self._delta(spec, price, underlying, now_ns)
        return unit_value(spec, price, rate, delta, underlying)

    def units(
        self, instruments: Iterable[str], now_ns: int, prices: Mapping[str, Decimal]
    ) -> dict[str, Decimal]:
        """Unit values of the instruments that are not plain (the gate values plain ones at
        their mark); ``UnvaluedError`` if any has none."""
        out: dict[str, Decimal] = {}
        for instrument_id in instruments:
            if self.is_plain(instrument_id):
                continue
            price = prices.get(instrument_id)
            if price is None:
                raise UnvaluedError("no_price", f"no market price yet to value {instrument_id}")
            out[instrument_id] = self.unit(instrument_id, price, now_ns)
        return out

    def premium(self, instrument_id: str, price: Decimal) -> Decimal:
        """An option's price per unit in the base currency (0 for anything else)."""
        spec = self._specs.get(instrument_id)
        if spec is None or spec.asset_class is not AssetClass.OPTION:
            return Decimal(0)
        return premium_per_unit(price, spec.multiplier, self.rate(instrument_id, spec.currency))

    def premiums(self, held: Iterable[str], prices: Mapping[str, Decimal]) -> dict[str, Decimal]:
        return {
            i: self.premium(i, p)
            for i in held
            if i in self.options and (p := prices.get(i)) is not None
        }

    # PnL: the ledger's equity ------------------------------------------------------------

    def value_per_unit(self, instrument_id: str, price: float) -> float:
        """What one unit held is worth at ``price`` in its value currency, up to a constant:
        ``price x multiplier`` (an option: its premium), an inverse contract ``-multiplier /
        price`` (so that the change between two prices is the PnL of a unit held)."""
        terms = self._per_unit.get(instrument_id)
        if terms is None:
            return price
        multiplier, inverse = terms
        return -multiplier / price if inverse else price * multiplier

    def pnl_currency(self, instrument_id: str) -> str | None:
        return self._pnl_currencies.get(instrument_id)

    def float_rate(self, instrument_id: str, currency: str | None) -> float | None:
        """The rate as a float for the ledger's equity; None when unknown. An inverse
        contract's coin without a rate of its own is worth its price in the quote currency."""
        if currency is None or currency == self._bases.get(instrument_id):
            return 1.0
        found = self._rate_of(instrument_id, currency)
        spec = self._specs.get(instrument_id)
        if found is not None or spec is None or not spec.is_inverse:
            return found
        price, quote = self._mark(instrument_id), self.float_rate(instrument_id, spec.currency)
        return (
            None
            if price is None or quote is None or spec.currency == currency
            else (float(price) * quote)
        )

    # options -----------------------------------------------------------------------------

    def _underlying_price(self, spec: InstrumentSpec) -> Decimal:
        assert spec.underlying is not None  # an option names its underlying
        price = self._mark(spec.underlying)
        if price is None:
            raise UnvaluedError(
                "no_underlying_price",
                f"no price of {spec.underlying} (the underlying of {spec.instrument_id}) to "
                "value the option by its delta: stream the underlying's bars in the run",
            )
        return price

    def _delta(
        self, spec: InstrumentSpec, price: Decimal, underlying: Decimal, now: int
    ) -> Decimal:
        key = (price, underlying, now)
        cached = self._deltas.get(spec.instrument_id)
        if cached is not None and cached[0] == key:
            return cached[1]
        assert spec.underlying is not None
        under = self._specs.get(spec.underlying)
        on_future = under is not None and under.asset_class in (
            AssetClass.FUTURE,
            AssetClass.CRYPTO_FUTURE,
        )
        try:
            delta = option_delta(spec, float(price), float(underlying), now, on_future, self._r)
        except QuantdeskError as error:
            raise UnvaluedError("no_delta", f"{spec.instrument_id}: no delta ({error})") from None
        value = Decimal(repr(delta))
        self._deltas[spec.instrument_id] = (key, value)
        return value


class LedgerCash:
    """Each strategy's cash from its fills, for the ledger's equity (base currency).

    A plain instrument's flows are base-currency cash, as they always were. Another's stay in
    its PnL currency while the strategy holds any position booked in that currency, valued
    at today's rate like the positions themselves, and are converted into base cash at the
    rate of the fill that leaves the strategy flat in it: a realised PnL is converted when it
    is realised, as a single-currency account converts it. A rate not known yet counts the
    last one seen (a foreign balance is never dropped to 0).
    """

    def __init__(self, values: UnitValues | None) -> None:
        self._values = values
        self.base: dict[str, float] = {}
        self._foreign: dict[str, dict[str, float]] = {}  # strategy -> currency -> amount
        self._via: dict[str, str] = {}  # currency -> an instrument to ask its rate with
        self._last_rates: dict[str, float] = {}

    def fill(
        self,
        strategy_id: str,
        instrument_id: str,
        signed_quantity: float,
        price: float,
        commission: float,
        commission_currency: str | None,
        book: Mapping[str, float],
    ) -> None:
        values = self._values
        if values is None or values.is_plain(instrument_id):
            self.base[strategy_id] = (
                self.base.get(strategy_id, 0.0) - signed_quantity * price - commission
            )
            return
        currency = values.pnl_currency(instrument_id)
        assert currency is not None  # not plain: a known instrument
        self._via.setdefault(currency, instrument_id)
        flow = -signed_quantity * values.value_per_unit(instrument_id, price)
        own = self._foreign.setdefault(strategy_id, {})
        own[currency] = own.get(currency, 0.0) + flow
        fee_currency = commission_currency or currency
        if commission and fee_currency != currency:
            rate = self._rate(instrument_id, fee_currency)
            self.base[strategy_id] = self.base.get(strategy_id, 0.0) - commission * rate
        elif commission:
            own[currency] -= commission
        if not any(q and values.pnl_currency(i) == currency for i, q in book.items()):
            amount = own.pop(currency)
            self.base[strategy_id] = self.base.get(strategy_id, 0.0) + amount * self._rate(
                instrument_id, currency
            )

    def equity(
        self,
        strategy_id: str,
        starting_equity: float,
        book: Mapping[str, float],
        mark: Callable[[str], float | None],
    ) -> float:
        value = starting_equity + self.base.get(strategy_id, 0.0)
        values = self._values
        for instrument_id, quantity in book.items():
            if not quantity:
                continue
            if values is None or values.is_plain(instrument_id):
                value += quantity * (mark(instrument_id) or 0.0)
                continue
            price = mark(instrument_id)
            if price:
                currency = values.pnl_currency(instrument_id)
                per_unit = values.value_per_unit(instrument_id, price)
                value += quantity * per_unit * self._rate(instrument_id, currency)
        for currency, amount in self._foreign.get(strategy_id, {}).items():
            value += amount * self._rate(self._via[currency], currency)
        return value

    def _rate(self, instrument_id: str, currency: str | None) -> float:
        assert self._values is not None
        rate = self._values.float_rate(instrument_id, currency)
        key = currency or ""
        if rate is None:
            return self._last_rates.get(key, 0.0)
        self._last_rates[key] = rate
        return rate
