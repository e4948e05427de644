"""Dated contracts and equities for tests: one place that spells out a valid future and option,
each test naming only what it is about (built independently of the code under test)."""

from decimal import Decimal
from typing import Any

from quantdesk.domain.instruments import AssetClass, InstrumentSpec

ES_EXPIRY = "2024-03-15T13:30:00Z"


def equity(instrument_id: str = "AAPL.XNAS", **fields: Any) -> InstrumentSpec:
    """A whole-share equity quoted in USD at a tick of 1 unless told otherwise."""
    values: dict[str, Any] = {"currency": "USD", "tick_size": 1}
    return InstrumentSpec(
        instrument_id=instrument_id, asset_class=AssetClass.EQUITY, **(values | fields)
    )


def future(instrument_id: str = "ESH4.XCME", **fields: Any) -> InstrumentSpec:
    """An index future, ES by default: USD, tick 0.25, multiplier 50, March 2024 expiry."""
    values: dict[str, Any] = {
        "currency": "USD",
        "tick_size": Decimal("0.25"),
        "multiplier": Decimal(50),
        "underlying": "ES",
        "underlying_class": "index",
        "expiration_ns": ES_EXPIRY,
    }
    return InstrumentSpec(
        instrument_id=instrument_id, asset_class=AssetClass.FUTURE, **(values | fields)
    )


def option(instrument_id: str, *, underlying: str, strike: int, **fields: Any) -> InstrumentSpec:
    """A call on ``underlying`` at ``strike``: USD, tick 0.01, multiplier 100, ES's expiry
    unless told otherwise (``option_kind="put"``, ``expiration_ns=...``)."""
    values: dict[str, Any] = {
        "currency": "USD",
        "tick_size": Decimal("0.01"),
        "multiplier": Decimal(100),
        "option_kind": "call",
        "expiration_ns": ES_EXPIRY,
    }
    return InstrumentSpec(
        instrument_id=instrument_id,
        asset_class=AssetClass.OPTION,
        underlying=underlying,
        strike=Decimal(strike),
        **(values | fields),
    )
