"""The tick rules' fields and wording: what a row's first failure (``Verdicts``) means."""

from collections.abc import Mapping

from quantdesk.domain.instruments import InstrumentSpec
from quantdesk.domain.market_data import Rejection, RejectReason, ValueBounds
from quantdesk.domain.ticks import FLAGS_MAX, TRADE_ID_MAX_CHARS, TickKind
from quantdesk.domain.time import ts_range_text
from quantdesk.services.tick_columns import RawTicks
from quantdesk.services.verdicts import Verdicts

PRICES: Mapping[TickKind, tuple[str, ...]] = {
    TickKind.TRADE: ("price",),
    TickKind.QUOTE: ("bid", "ask"),
    TickKind.DELTA: ("price",),
}
SIZES: Mapping[TickKind, tuple[str, ...]] = {
    TickKind.TRADE: ("size",),
    TickKind.QUOTE: ("bid_size", "ask_size"),
    TickKind.DELTA: ("size",),
}
FIELDS = (  # what a tick rejection may name
    "timestamp",
    "price",
    "size",
    "bid",
    "ask",
    "bid_size",
    "ask_size",
    "aggressor_side",
    "trade_id",
    "action",
    "side",
    "order_id",
    "sequence",
    "flags",
)


def describe(
    raw: RawTicks,
    verdicts: Verdicts,
    instrument: InstrumentSpec,
    bounds: ValueBounds | None,
) -> list[Rejection]:
    return verdicts.rejections(
        raw.source_row,
        raw.text_of,
        lambda _, reason, field: _detail(raw.kind, reason, field, instrument, bounds),
    )


_FIXED = {
    RejectReason.TIMESTAMP_UNPARSEABLE: "not a timestamp in the declared format "
    "(ISO-8601 or epoch s/ms/us/ns)",
    RejectReason.TIMESTAMP_NO_TIMEZONE: "timestamp has no timezone; declare the file UTC if it is",
    RejectReason.OUT_OF_ORDER: "earlier than a previous row; ticks must be in time order "
    "(equal times are fine)",
    RejectReason.DUPLICATE_TRADE: "the same trade id at the same time as an earlier row",
    RejectReason.SEQUENCE_DECREASING: "lower than an earlier row's sequence number; book "
    "sequences must not go back",
    RejectReason.TRADE_ID_INVALID: f"a trade id is 1 to {TRADE_ID_MAX_CHARS} printable ASCII "
    "characters, not only spaces (the engine's limit)",
    RejectReason.ACTION_INVALID: "a book action is ADD, UPDATE, DELETE or CLEAR (or 1-4)",
}
_SIDES = {
    "aggressor_side": "an aggressor side is BUYER, SELLER or NO_AGGRESSOR (or BUY/SELL, 1/2/0)",
    "side": "a book side is BUY (BID, B) or SELL (ASK, A); only a CLEAR may have no side",
}


def _detail(
    kind: TickKind,
    reason: RejectReason,
    field: str,
    instrument: InstrumentSpec,
    bounds: ValueBounds | None,
) -> str:
    fixed = _FIXED.get(reason)
    if fixed is not None:
        return fixed
    if reason is RejectReason.TIMESTAMP_OUT_OF_RANGE:
        return f"outside the valid range {ts_range_text()}"
    if reason is RejectReason.SIDE_INVALID:
        return _SIDES[field]
    if reason is RejectReason.VALUE_NOT_A_NUMBER:
        if field in ("order_id", "sequence", "flags"):
            return f"{field} must be a whole number from 0 to 2**64 - 1"
        return f"{field} must be a finite number"
    if reason is RejectReason.VALUE_TOO_LARGE:
        if field == "flags":
            return f"flags is one byte: 0 to {FLAGS_MAX}"
        assert bounds is not None
        size = field in SIZES[kind]
        limit = bounds.quantity_max if size else bounds.price_max
        return f"{field} is above the engine's largest {'quantity' if size else 'price'} {limit!r}"
    if reason is RejectReason.PRICE_NOT_POSITIVE:
        return f"{field} must be > 0" + (" (0 only on a CLEAR)" if kind is TickKind.DELTA else "")
    if reason is RejectReason.SIZE_NOT_POSITIVE:
        which = "a trade" if kind is TickKind.TRADE else "a book ADD or UPDATE"
        return f"{field} must be > 0 for {which}"
    if reason is RejectReason.SIZE_NEGATIVE:
        return f"{field} must be >= 0"
    if reason is RejectReason.PRICE_PRECISION:
        return (
            f"not a multiple of the tick size {instrument.tick_size} of {instrument.instrument_id}"
        )
    if reason is RejectReason.SIZE_PRECISION:
        return (
            f"more than {instrument.size_precision} decimals (size precision of "
            f"{instrument.instrument_id}), or non-zero below half of its increment"
        )
    return reason.value.replace("_", " ")
