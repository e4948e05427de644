"""What market data a strategy runs on, and the bar series that follows from it.

A definition's ``market_data`` says what the engine streams for its instruments: ``bars``
(the catalog's bars, ``{instrument}-{spec}-EXTERNAL``), ``trades`` or ``quotes`` (the
catalog's trade or quote ticks: fills happen against the ticks, and the strategy's bars are
the engine's own aggregation of them, ``{instrument}-{spec}-INTERNAL``), or ``book`` (L2
order-book deltas; see :data:`BOOK_FAMILIES`). Every family reads bars, so every family
runs on ticks unchanged.
"""

from collections.abc import Mapping
from enum import StrEnum

from quantdesk.domain.instruments import validate_instrument_id
from quantdesk.domain.market_data import BarSpec
from quantdesk.domain.ticks import TickKind


class MarketData(StrEnum):
    BARS = "bars"
    TRADES = "trades"
    QUOTES = "quotes"
    BOOK = "book"


TICK_KINDS: Mapping[MarketData, TickKind] = {
    MarketData.TRADES: TickKind.TRADE,
    MarketData.QUOTES: TickKind.QUOTE,
    MarketData.BOOK: TickKind.DELTA,
}
"""The catalog data type each tick feed streams (the one place the two vocabularies meet)."""


def tick_kind(market_data: MarketData) -> TickKind | None:
    """The catalog's tick data a strategy on ``market_data`` streams (``None``: bars)."""
    return TICK_KINDS.get(market_data)


_PRICE_TYPES = {
    MarketData.TRADES: ("LAST",),
    MarketData.QUOTES: ("BID", "ASK", "MID"),
    MarketData.BOOK: ("BID", "ASK", "MID"),
}
"""What the engine aggregates bars from: trades make LAST bars, quotes BID, ASK or MID."""

BOOK_FAMILIES = frozenset({"execution"})
"""Families that run on the book: it streams book deltas and no trades, and the only bars
made from it are the top of book's (see the backtest adapter); the execution family slices
a parent order on a clock and fills its children against the book's depth."""


def bar_source(market_data: MarketData | str) -> str:
    """``EXTERNAL`` for bars read from the catalog, ``INTERNAL`` for bars the engine makes."""
    return "EXTERNAL" if MarketData(market_data) is MarketData.BARS else "INTERNAL"


def feed_bar_type(instrument_id: str, spec: BarSpec, market_data: MarketData | str) -> str:
    """The bar series a strategy on ``market_data`` reads for an instrument."""
    return f"{validate_instrument_id(instrument_id)}-{spec}-{bar_source(market_data)}"


def is_internal(bar_type: str) -> bool:
    return bar_type.endswith("-INTERNAL")


def check_bar_spec(market_data: MarketData, spec: BarSpec) -> None:
    """A bar spec the engine can aggregate from the data (``ValueError`` otherwise)."""
    allowed = _PRICE_TYPES.get(market_data)
    if allowed is not None and spec.price_type not in allowed:
        source = "trades" if market_data is MarketData.TRADES else "the best bid and ask"
        raise ValueError(
            f"bars on {market_data.value} are built from {source}: bar spec {spec} needs "
            f"price type {' or '.join(allowed)} (e.g. {spec.step}-{spec.aggregation}-"
            f"{allowed[-1]})"
        )
    if market_data is not MarketData.BARS and spec.aggregation in ("VOLUME", "VALUE"):
        raise ValueError(
            f"bars on {market_data.value}: {spec.aggregation.lower()} bars are not supported; "
            "use time or tick bars"
        )
