"""Unit values at a conversion rate other than 1, an inverse contract's face value and PnL
currency, and an option valued without its delta: what the base-currency gate multiplies."""

from decimal import Decimal

import pytest

from quantdesk.domain.instruments import AssetClass, InstrumentSpec
from quantdesk.domain.risk_values import (
    pnl_currency,
    premium_per_unit,
    unit_value,
)
from support.contracts import future, option

USD_PER_JPY = Decimal("0.0067")
NIY = future("NIYH4.XCME", currency="JPY", tick_size=Decimal(5), multiplier=Decimal(500))
CALL = option("NIYH4C33000.XCME", underlying="NIYH4.XCME", strike=33000, currency="JPY")
INVERSE = InstrumentSpec(
    instrument_id="BTCUSD-PERP.BITMEX",
    asset_class=AssetClass.CRYPTO_PERPETUAL,
    base_currency="BTC",
    currency="USD",
    settlement_currency="BTC",
    is_inverse=True,
    tick_size=Decimal("0.5"),
    multiplier=Decimal(100),
)


def test_a_future_quoted_in_yen_is_its_notional_times_the_rate() -> None:
    # 33,000 x 500 JPY = 16.5M JPY = 110,550 USD at 0.0067
    assert unit_value(NIY, Decimal(33000), USD_PER_JPY) == Decimal("110550.0000")


def test_an_option_in_yen_is_its_delta_notional_times_the_rate() -> None:
    value = unit_value(CALL, Decimal(800), USD_PER_JPY, Decimal("0.5"), Decimal(33000))
    assert value == Decimal("0.5") * 33000 * 100 * USD_PER_JPY
    assert premium_per_unit(Decimal(800), CALL.multiplier, USD_PER_JPY) == 800 * 100 * USD_PER_JPY


@pytest.mark.parametrize(("delta", "underlying"), [(None, Decimal(33000)), (Decimal(1), None)])
def test_an_option_without_its_delta_or_underlying_price_is_refused(
    delta: Decimal | None, underlying: Decimal | None
) -> None:
    with pytest.raises(ValueError, match=r"NIYH4C33000\.XCME needs its delta and underlying"):
        unit_value(CALL, Decimal(800), USD_PER_JPY, delta, underlying)


def test_an_inverse_contract_is_its_face_value_whatever_its_price() -> None:
    rate = Decimal("0.9")
    assert unit_value(INVERSE, Decimal(40000), rate) == Decimal(90)
    assert unit_value(INVERSE, Decimal(20000), rate) == Decimal(90)


def test_pnl_is_in_the_coin_only_for_an_inverse_contract() -> None:
    assert pnl_currency(INVERSE) == "BTC"
    assert pnl_currency(NIY) == "JPY"
    linear = INVERSE.model_copy(update={"is_inverse": False, "settlement_currency": None})
    assert pnl_currency(linear) == "USD"
