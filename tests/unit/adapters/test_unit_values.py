"""The guard's valuation without an engine: rates, multipliers, deltas, and what it refuses."""

from decimal import Decimal

import pytest

from quantdesk.adapters.nautilus.unit_values import LedgerCash, UnitValues, UnvaluedError, base_only
from quantdesk.domain.instruments import AssetClass, InstrumentSpec
from support.contracts import equity, future, option

EXPIRY = "2030-12-20T21:00:00Z"
AAPL = equity()
NIY = future(
    "NIYZ0.XOSE",
    currency="JPY",
    tick_size=Decimal(5),
    multiplier=Decimal(500),
    underlying="NIY",
    expiration_ns=EXPIRY,
)
ES = NIY.model_copy(
    update={"instrument_id": "ESZ0.XCME", "currency": "USD", "multiplier": Decimal(50)}
)
CALL = option("AAPL301220C200.XNAS", underlying="AAPL.XNAS", strike=200, expiration_ns=EXPIRY)
SPECS = {s.instrument_id: s for s in (AAPL, NIY, ES, CALL)}
BASES = dict.fromkeys(SPECS, "USD")
NOW = 1_893_456_000_000_000_000  # 2030-01-01


def values(marks: dict[str, Decimal], rates: dict[str, float] | None = None) -> UnitValues:
    known = rates or {}

    def rate(instrument_id: str, currency: str) -> float | None:
        return 1.0 if currency == "USD" else known.get(currency)

    return UnitValues(SPECS, BASES, rate, marks.get)


def test_a_missing_rate_is_a_denial_naming_the_pair_never_a_rate_of_1_or_0() -> None:
    book = UnitValues(SPECS, BASES, base_only(BASES), {}.get)
    with pytest.raises(UnvaluedError) as raised:
        book.unit(NIY.instrument_id, Decimal(33_000), NOW)
    assert raised.value.rule == "no_rate"
    assert "no rate for JPY->USD" in raised.value.detail
    assert book.unit(ES.instrument_id, Decimal(5000), NOW) == Decimal(250_000)


def test_units_convert_at_the_rate_now() -> None:
    book = values({}, {"JPY": 0.0068})
    assert book.unit(NIY.instrument_id, Decimal(33_000), NOW) == Decimal(33_000) * 500 * Decimal(
        "0.0068"
    )
    assert book.is_plain(AAPL.instrument_id) and not book.is_plain(ES.instrument_id)
    assert not book.all_plain


def test_an_option_needs_its_underlyings_price() -> None:
    with pytest.raises(UnvaluedError) as raised:
        values({}).unit(CALL.instrument_id, Decimal(12), NOW)
    assert raised.value.rule == "no_underlying_price"
    assert "AAPL.XNAS" in raised.value.detail


def test_an_option_is_valued_by_its_delta_and_a_price_past_its_ceiling_is_refused() -> None:
    book = values({AAPL.instrument_id: Decimal(190)})
    unit = book.unit(CALL.instrument_id, Decimal(12), NOW)
    assert 0 < unit < 190 * 100  # 0 < delta < 1
    assert book.premium(CALL.instrument_id, Decimal(12)) == Decimal(1200)
    with pytest.raises(UnvaluedError) as raised:  # a call worth more than its underlying
        book.unit(CALL.instrument_id, Decimal(191), NOW)
    assert raised.value.rule == "no_delta"
    assert "no-arbitrage bounds" in raised.value.detail


def test_an_option_priced_below_its_intrinsic_value_counts_the_intrinsics_slope() -> None:
    """A last close under the intrinsic value (stale against a newer underlying close, or
    rounded to the tick) is not denied: at the smallest volatility a call deep in the money
    has a delta of 1 (intrinsic here: 90)."""
    deep = values({AAPL.instrument_id: Decimal(290)})
    assert deep.unit(CALL.instrument_id, Decimal(89), NOW) == Decimal(290 * 100)


def test_the_ledger_books_futures_pnl_times_the_multiplier_in_the_base_currency() -> None:
    book = values({}, {"JPY": 0.01})
    cash = LedgerCash(book)
    marks = {ES.instrument_id: 5010.0, NIY.instrument_id: 33_100.0}
    # long 2 ES at 5,000, long 1 NIY at 33,000: 2 x 10 x 50 + 1 x 100 x 500 x 0.01
    cash.fill("S1", ES.instrument_id, 2.0, 5000.0, 0.0, None, {ES.instrument_id: 2.0})
    held = {ES.instrument_id: 2.0, NIY.instrument_id: 1.0}
    cash.fill("S1", NIY.instrument_id, 1.0, 33_000.0, 0.0, None, held)
    assert cash.equity("S1", 100_000.0, held, marks.get) == pytest.approx(100_000 + 1000 + 500)
    # NIY closed at 33,100: its PnL goes into base cash at the closing fill's rate
    held[NIY.instrument_id] = 0.0
    cash.fill("S1", NIY.instrument_id, -1.0, 33_100.0, 0.0, None, held)
    assert cash.base["S1"] == pytest.approx(500.0)


XBT = InstrumentSpec(
    instrument_id="XBTUSD.BITMEX",
    asset_class=AssetClass.CRYPTO_PERPETUAL,
    currency="USD",
    base_currency="BTC",
    settlement_currency="BTC",
    is_inverse=True,
    tick_size=Decimal("0.5"),
)


def test_an_inverse_contract_is_its_face_value_and_its_pnl_is_in_the_coin() -> None:
    """1,000 contracts of 1 USD, long at 40,000, marked at 44,000: 1,000 USD of exposure at
    any price; PnL 1,000 x (1/40,000 - 1/44,000) BTC, worth 100 USD at 44,000."""
    marks = {XBT.instrument_id: Decimal(44_000)}
    book = UnitValues(
        {XBT.instrument_id: XBT}, {XBT.instrument_id: "USD"}, base_only({}), marks.get
    )
    assert book.unit(XBT.instrument_id, Decimal(44_000), NOW) == Decimal(1)
    assert book.unit(XBT.instrument_id, Decimal(10), NOW) == Decimal(1)
    cash = LedgerCash(book)
    held = {XBT.instrument_id: 1000.0}
    cash.fill("S1", XBT.instrument_id, 1000.0, 40_000.0, 0.0, None, held)
    equity = cash.equity("S1", 0.0, held, lambda i: float(marks[i]))
    assert equity == pytest.approx(100.0, rel=1e-12)
