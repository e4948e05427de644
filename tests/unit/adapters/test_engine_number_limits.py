"""The domain's number limits fit the installed engine: what validates, the engine can hold.

A tick size of 1e30 used to pass validation and end in the engine's own range error (a panic
in its Rust core for some paths); the domain now refuses anything past these limits.
"""

from decimal import Decimal

import pytest
from nautilus_trader.model import objects

from quantdesk.adapters.nautilus.instruments import from_nautilus, to_nautilus
from quantdesk.domain.instruments import AssetClass, InstrumentSpec
from quantdesk.domain.numbers import MONEY_MAX, PRECISION_MAX, PRICE_MAX, QUANTITY_MAX


def test_domain_limits_are_within_the_engine() -> None:
    assert PRECISION_MAX <= objects.FIXED_PRECISION
    assert Decimal(objects.PRICE_MAX) >= PRICE_MAX
    assert Decimal(objects.QUANTITY_MAX) >= QUANTITY_MAX
    assert Decimal(objects.MONEY_MAX) >= MONEY_MAX


@pytest.mark.parametrize(
    ("tick", "size"),
    [
        (str(PRICE_MAX), "1"),
        ("0.000000001", "0.000000001"),
        ("0.01", str(QUANTITY_MAX)),
    ],
)
def test_the_extremes_the_domain_accepts_build_engine_instruments(tick: str, size: str) -> None:
    spec = InstrumentSpec.model_validate(
        {
            "instrument_id": "BTCUSDT-PERP.BINANCE",
            "asset_class": AssetClass.CRYPTO_PERPETUAL,
            "currency": "USDT",
            "base_currency": "BTC",
            "tick_size": tick,
            "size_increment": size,
            "lot_size": size,
            "multiplier": size,
            "margin_init": "1",
            "maker_fee": "-0.01",
            "taker_fee": "0.1",
        }
    )
    assert from_nautilus(to_nautilus(spec)) == spec
