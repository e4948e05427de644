"""The ingest rules for trade ticks, quote ticks and order-book deltas, on whole columns.

As for bars, each row is judged by the first rule it breaks (in the order below), so every
rejected row has exactly one reason. Rules: a timestamp that parses, has a zone and lies in
range; codes that name a side / action (a book side may be missing only on a CLEAR, whose
price, size, side and order id are the engine's null order whatever the file says); a
printable-ASCII trade id of 1..36 characters; finite numbers; prices > 0; values within
the engine's bounds; sizes > 0 for trades and book ADD/UPDATE, >= 0 for quotes and DELETE;
prices and sizes on the instrument's increments; timestamps non-decreasing (ticks may share
one); no trade twice (same time and trade id); book sequence numbers non-decreasing.

A crossed quote (bid > ask) or book (best bid >= best ask after an event) is a warning.
State that spans chunks (the last timestamp, sequence, trade ids, the book) is carried in a
``TickCursor``.
"""

from dataclasses import dataclass, field

import numpy as np

from quantdesk.domain.instruments import InstrumentSpec
from quantdesk.domain.market_data import Rejection, RejectReason, ValueBounds
from quantdesk.domain.ticks import (
    FLAGS_MAX,
    INVALID_CODE,
    TRADE_ID_MAX_CHARS,
    BookAction,
    BookSide,
    TickKind,
    TickWarning,
)
from quantdesk.services.bar_validation import off_increment, on_grid, previous_max
from quantdesk.services.book_check import CrossedBookCheck, crossed_quotes
from quantdesk.services.columns import BoolArray, Float64Array, Int64Array, TimestampStatus
from quantdesk.services.tick_columns import AnyArray, RawTicks, TickColumns, value_fields
from quantdesk.services.tick_keys import row_keys
from quantdesk.services.tick_rules import FIELDS, PRICES, SIZES, describe
from quantdesk.services.verdicts import Verdicts


@dataclass
class TickCursor:
    """What the rules remember from earlier chunks of the same file."""

    last_ts: int | None = None
    last_sequence: int | None = None
    trade_ids_at_last_ts: set[str] = field(default_factory=set)
    book: CrossedBookCheck = field(default_factory=CrossedBookCheck)


@dataclass(frozen=True, eq=False)
class ValidatedTicks:
    ticks: TickColumns
    source_row: Int64Array
    rejections: list[Rejection]
    warnings: list[TickWarning]


def validate_ticks(
    raw: RawTicks,
    instrument: InstrumentSpec,
    cursor: TickCursor,
    *,
    bounds: ValueBounds | None = None,
) -> ValidatedTicks:
    """Judge one chunk; ``cursor`` is updated to follow it."""
    kind, n = raw.kind, len(raw)
    verdicts = Verdicts(n, FIELDS)
    status = raw.ts_status
    verdicts.reject(status == TimestampStatus.UNPARSEABLE, RejectReason.TIMESTAMP_UNPARSEABLE)
    verdicts.reject(status == TimestampStatus.NO_TIMEZONE, RejectReason.TIMESTAMP_NO_TIMEZONE)
    verdicts.reject(status == TimestampStatus.OUT_OF_RANGE, RejectReason.TIMESTAMP_OUT_OF_RANGE)
    values = dict(raw.values)
    clear = values["action"] == BookAction.CLEAR if kind is TickKind.DELTA else None
    for name, bad in raw.unparsed.items():
        if clear is not None and name == "order_id":  # a CLEAR's is the null order's
            bad = bad & ~clear
        verdicts.reject(bad, RejectReason.VALUE_NOT_A_NUMBER, name)
    if kind is TickKind.DELTA:
        verdicts.reject(values["flags"] > FLAGS_MAX, RejectReason.VALUE_TOO_LARGE, "flags")
    _codes(kind, values, verdicts)
    if kind is TickKind.TRADE:
        verdicts.reject(
            _bad_trade_ids(values["trade_id"]), RejectReason.TRADE_ID_INVALID, "trade_id"
        )
    _numbers(kind, values, verdicts, instrument, bounds)
    _order(raw, values, verdicts, cursor)

    alive = verdicts.alive
    places = {name: instrument.price_precision for name in PRICES[kind]} | {
        name: instrument.size_precision for name in SIZES[kind]
    }
    ticks = TickColumns(
        kind,
        raw.ts_ns[alive],
        {  # valid numbers as the decimal the engine stores (no float noise: see on_grid)
            name: on_grid(values[name][alive], places[name])
            if name in places
            else values[name][alive]
            for name in value_fields(kind)
        },
    )
    rows = raw.source_row[alive]
    warnings: list[TickWarning] = []
    if kind is TickKind.QUOTE:
        warnings = crossed_quotes(ticks.ts_ns, rows, ticks.field("bid"), ticks.field("ask"))
    elif kind is TickKind.DELTA:
        warnings = cursor.book.apply(
            ticks.ts_ns,
            rows,
            ticks.field("action"),
            ticks.field("side"),
            ticks.field("price"),
            ticks.field("size"),
        )
    return ValidatedTicks(
        ticks=ticks,
        source_row=rows,
        rejections=describe(raw, verdicts, instrument, bounds),
        warnings=warnings,
    )


def _codes(kind: TickKind, values: dict[str, AnyArray], verdicts: Verdicts) -> None:
    if kind is TickKind.TRADE:
        side = values["aggressor_side"]
        verdicts.reject(side == INVALID_CODE, RejectReason.SIDE_INVALID, "aggressor_side")
        return
    if kind is not TickKind.DELTA:
        return
    action, side = values["action"], values["side"]
    verdicts.reject(action == INVALID_CODE, RejectReason.ACTION_INVALID, "action")
    clear = action == BookAction.CLEAR
    sideless = (side == INVALID_CODE) | (side == BookSide.NO_SIDE)
    verdicts.reject(~clear & sideless, RejectReason.SIDE_INVALID, "side")
    # A CLEAR is the engine's null order whatever the row says (OrderBookDelta.clear).
    for name in ("side", "order_id", "price", "size"):
        values[name] = np.where(clear, 0, values[name]).astype(values[name].dtype)


def _bad_trade_ids(ids: AnyArray) -> BoolArray:
    """Not 1..36 printable ASCII characters, or only spaces: the engine refuses (or aborts)."""
    texts = ids.tolist()
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    bad: BoolArray = (lengths == 0) | (lengths > TRADE_ID_MAX_CHARS)
    joined = "".join(texts)
    if joined.isascii() and joined.isprintable() and " " not in joined:
        return bad  # the usual chunk: one pass over all the ids at once
    judged = [not (t.isascii() and t.isprintable()) or t.isspace() for t in texts]
    return bad | np.asarray(judged, dtype=np.bool_)


def _numbers(
    kind: TickKind,
    values: dict[str, AnyArray],
    verdicts: Verdicts,
    instrument: InstrumentSpec,
    bounds: ValueBounds | None,
) -> None:
    floats: dict[str, Float64Array] = {name: values[name] for name in (*PRICES[kind], *SIZES[kind])}
    for name, column in floats.items():
        verdicts.reject(~np.isfinite(column), RejectReason.VALUE_NOT_A_NUMBER, name)
    clear = values["action"] == BookAction.CLEAR if kind is TickKind.DELTA else None
    with np.errstate(invalid="ignore"):
        for name in PRICES[kind]:
            not_positive = floats[name] <= 0
            if clear is not None:
                not_positive &= ~clear
            verdicts.reject(not_positive, RejectReason.PRICE_NOT_POSITIVE, name)
        if bounds is not None:
            for name, column in floats.items():
                limit = bounds.quantity_max if name in SIZES[kind] else bounds.price_max
                verdicts.reject(column > limit, RejectReason.VALUE_TOO_LARGE, name)
        for name in SIZES[kind]:
            size = floats[name]
            if kind is TickKind.QUOTE:
                verdicts.reject(size < 0, RejectReason.SIZE_NEGATIVE, name)
            elif kind is TickKind.TRADE:
                verdicts.reject(size <= 0, RejectReason.SIZE_NOT_POSITIVE, name)
            else:
                action = values["action"]
                must_be_positive = (action == BookAction.ADD) | (action == BookAction.UPDATE)
                verdicts.reject(
                    must_be_positive & (size <= 0), RejectReason.SIZE_NOT_POSITIVE, name
                )
                verdicts.reject(size < 0, RejectReason.SIZE_NEGATIVE, name)
        tick = float(instrument.tick_size)
        size_step = 10.0**-instrument.size_precision
        for name in PRICES[kind]:
            verdicts.reject(off_increment(floats[name], tick), RejectReason.PRICE_PRECISION, name)
        for name in SIZES[kind]:
            verdicts.reject(
                off_increment(floats[name], size_step), RejectReason.SIZE_PRECISION, name
            )


def _order(
    raw: RawTicks, values: dict[str, AnyArray], verdicts: Verdicts, cursor: TickCursor
) -> None:
    """Time order (non-decreasing), trades once each, book sequences non-decreasing."""
    ts = raw.ts_ns
    seed = np.iinfo(np.int64).min if cursor.last_ts is None else cursor.last_ts
    alive = verdicts.alive
    earlier = previous_max(ts, alive, seed)  # ticks may share an instant: only < is late
    verdicts.reject(alive & (ts < earlier), RejectReason.OUT_OF_ORDER, "timestamp")
    if raw.kind is TickKind.TRADE:
        _duplicate_trades(ts, values["trade_id"], verdicts, cursor)
    if raw.kind is TickKind.DELTA:
        sequence = values["sequence"]
        alive = verdicts.alive
        start = np.uint64(0 if cursor.last_sequence is None else cursor.last_sequence)
        highest = np.maximum.accumulate(
            np.concatenate(([start], np.where(alive, sequence, np.uint64(0)).astype(np.uint64)))
        )
        verdicts.reject(
            alive & (sequence < highest[:-1]), RejectReason.SEQUENCE_DECREASING, "sequence"
        )
        kept = np.flatnonzero(verdicts.alive)
        if kept.size:
            cursor.last_sequence = int(sequence[kept[-1]])
    kept = np.flatnonzero(verdicts.alive)
    if kept.size:
        last = int(ts[kept[-1]])
        if raw.kind is TickKind.TRADE:
            at_last = kept[ts[kept] == last]
            same = cursor.trade_ids_at_last_ts if cursor.last_ts == last else set()
            cursor.trade_ids_at_last_ts = same | set(values["trade_id"][at_last].tolist())
        cursor.last_ts = last


def _duplicate_trades(
    ts: Int64Array, ids: AnyArray, verdicts: Verdicts, cursor: TickCursor
) -> None:
    """A trade seen before (same time and trade id, here or at the end of the last chunk)."""
    alive = np.flatnonzero(verdicts.alive)
    if not alive.size:
        return
    seen = sorted(cursor.trade_ids_at_last_ts) if cursor.last_ts is not None else []
    stamps = np.concatenate([np.full(len(seen), cursor.last_ts or 0, dtype=np.int64), ts[alive]])
    keys = row_keys(stamps, np.concatenate([np.array(seen, dtype=object), ids[alive]]))
    _, first = np.unique(keys, return_index=True)
    repeated = np.ones(len(keys), dtype=np.bool_)
    repeated[first] = False
    duplicate = np.zeros(len(ts), dtype=np.bool_)
    duplicate[alive] = repeated[len(seen) :]
    verdicts.reject(duplicate, RejectReason.DUPLICATE_TRADE, "trade_id")
