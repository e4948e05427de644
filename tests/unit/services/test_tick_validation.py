"""The tick rules one by one: each reason, each warning, and what carries across chunks."""

import dataclasses
from collections.abc import Mapping

import numpy as np
import pytest

from quantdesk.domain.market_data import RejectReason, ValueBounds
from quantdesk.domain.ticks import (
    F_LAST,
    INVALID_CODE,
    AggressorSide,
    BookAction,
    BookSide,
    TickKind,
    TickWarningKind,
)
from quantdesk.services.columns import TimestampStatus
from quantdesk.services.tick_batches import mark_event_ends, merged_inside, split_last_event
from quantdesk.services.tick_columns import TickColumns
from quantdesk.services.tick_validation import TickCursor, ValidatedTicks, validate_ticks
from support.ticks import T0, crypto, raw_ticks

BOUNDS = ValueBounds(price_max=17_014_118_346_046.0, quantity_max=34_028_236_692_093.0)
BUY, SELL = int(AggressorSide.BUYER), int(AggressorSide.SELLER)
R = RejectReason


def trade(ts: int = T0, **changes: object) -> dict[str, object]:
    return {"ts": ts, "price": 100.0, "size": 1.0, "aggressor_side": BUY, "trade_id": "T1"} | (
        changes
    )


def quote(ts: int = T0, **changes: object) -> dict[str, object]:
    row = {"ts": ts, "bid": 100.0, "ask": 100.01, "bid_size": 1.0, "ask_size": 2.0}
    return row | changes


def delta(ts: int = T0, **changes: object) -> dict[str, object]:
    row = {
        "ts": ts,
        "action": int(BookAction.ADD),
        "side": int(BookSide.BUY),
        "price": 100.0,
        "size": 1.0,
        "order_id": 0,
        "sequence": 1,
        "flags": 0,
    }
    return row | changes


def check(
    kind: TickKind, rows: list[dict[str, object]], cursor: TickCursor | None = None
) -> ValidatedTicks:
    raw = raw_ticks(kind, rows)
    return validate_ticks(raw, crypto(), cursor or TickCursor(), bounds=BOUNDS)


def reasons(result: ValidatedTicks) -> list[tuple[int, str, RejectReason]]:
    return [(r.row, r.field, r.reason) for r in result.rejections]


CASES: list[tuple[str, TickKind, Mapping[str, object], str, RejectReason]] = [
    ("unparseable", TickKind.TRADE, {"status": 1}, "timestamp", R.TIMESTAMP_UNPARSEABLE),
    ("no zone", TickKind.QUOTE, {"status": 2}, "timestamp", R.TIMESTAMP_NO_TIMEZONE),
    ("out of range", TickKind.DELTA, {"status": 3}, "timestamp", R.TIMESTAMP_OUT_OF_RANGE),
    ("trade side", TickKind.TRADE, {"aggressor_side": INVALID_CODE}, "aggressor_side",
     R.SIDE_INVALID),
    ("book action", TickKind.DELTA, {"action": INVALID_CODE}, "action", R.ACTION_INVALID),
    ("book side", TickKind.DELTA, {"side": INVALID_CODE}, "side", R.SIDE_INVALID),
    ("no side on an ADD", TickKind.DELTA, {"side": int(BookSide.NO_SIDE)}, "side",
     R.SIDE_INVALID),
    ("empty trade id", TickKind.TRADE, {"trade_id": ""}, "trade_id", R.TRADE_ID_INVALID),
    ("37 characters", TickKind.TRADE, {"trade_id": "x" * 37}, "trade_id",
     R.TRADE_ID_INVALID),
    ("non-ASCII id (aborts the engine)", TickKind.TRADE, {"trade_id": "é1"}, "trade_id",
     R.TRADE_ID_INVALID),
    ("blank id", TickKind.TRADE, {"trade_id": "   "}, "trade_id", R.TRADE_ID_INVALID),
    ("NaN price", TickKind.TRADE, {"price": float("nan")}, "price", R.VALUE_NOT_A_NUMBER),
    ("infinite ask", TickKind.QUOTE, {"ask": float("inf")}, "ask", R.VALUE_NOT_A_NUMBER),
    ("zero trade price", TickKind.TRADE, {"price": 0.0}, "price", R.PRICE_NOT_POSITIVE),
    ("negative bid", TickKind.QUOTE, {"bid": -1.0}, "bid", R.PRICE_NOT_POSITIVE),
    ("zero book price", TickKind.DELTA, {"price": 0.0}, "price", R.PRICE_NOT_POSITIVE),
    ("price above the engine's", TickKind.TRADE, {"price": 2e13}, "price",
     R.VALUE_TOO_LARGE),
    ("size above the engine's", TickKind.QUOTE, {"bid_size": 4e13}, "bid_size",
     R.VALUE_TOO_LARGE),
    ("flags beyond a byte", TickKind.DELTA, {"flags": 256}, "flags", R.VALUE_TOO_LARGE),
    ("zero trade size", TickKind.TRADE, {"size": 0.0}, "size", R.SIZE_NOT_POSITIVE),
    ("zero size on an UPDATE", TickKind.DELTA, {"action": int(BookAction.UPDATE), "size": 0.0},
     "size", R.SIZE_NOT_POSITIVE),
    ("negative quote size", TickKind.QUOTE, {"ask_size": -1.0}, "ask_size",
     R.SIZE_NEGATIVE),
    ("negative size on a DELETE", TickKind.DELTA, {"action": int(BookAction.DELETE), "size": -1.0},
     "size", R.SIZE_NEGATIVE),
    ("off tick", TickKind.QUOTE, {"bid": 100.005}, "bid", R.PRICE_PRECISION),
    ("too many size decimals", TickKind.TRADE, {"size": 1.0005}, "size",
     R.SIZE_PRECISION),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "change", "field", "reason"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_each_rule_rejects_with_its_reason(
    kind: TickKind, change: Mapping[str, object], field: str, reason: RejectReason
) -> None:
    make = {TickKind.TRADE: trade, TickKind.QUOTE: quote, TickKind.DELTA: delta}[kind]
    ids = [{"trade_id": f"T{i}"} if kind is TickKind.TRADE else {} for i in range(3)]
    rows = [make(T0, **ids[0]), make(T0 + 1, **(ids[1] | change)), make(T0 + 2, **ids[2])]
    result = check(kind, rows)
    assert reasons(result) == [(3, field, reason)]
    assert len(result.ticks) == 2
    assert result.rejections[0].detail  # every rejection says why


def test_zero_quote_sizes_and_delete_sizes_are_allowed() -> None:
    """The engine takes zero-size quotes and deletes (it refuses zero trades and ADDs)."""
    quotes = check(TickKind.QUOTE, [quote(bid_size=0.0, ask_size=0.0)])
    deletes = check(TickKind.DELTA, [delta(action=int(BookAction.DELETE), size=0.0)])
    assert not quotes.rejections and not deletes.rejections


def test_a_clear_is_the_null_order_whatever_the_row_says() -> None:
    row = delta(action=int(BookAction.CLEAR), side=INVALID_CODE, price=float("nan"), size=0.0)
    result = check(TickKind.DELTA, [row, delta(T0 + 1, action=int(BookAction.CLEAR), price=5.0)])
    assert not result.rejections
    for name in ("side", "price", "size", "order_id"):
        assert result.ticks.field(name).tolist() == [0, 0]


def test_a_clear_without_an_order_id_is_kept_and_an_add_without_one_is_not() -> None:
    rows = [delta(action=int(BookAction.CLEAR)), delta(T0 + 1, sequence=2)]
    raw = raw_ticks(TickKind.DELTA, rows)
    missing = dataclasses.replace(raw, unparsed={"order_id": np.array([True, True])})
    result = validate_ticks(missing, crypto(), TickCursor(), bounds=BOUNDS)
    assert reasons(result) == [(3, "order_id", RejectReason.VALUE_NOT_A_NUMBER)]
    assert result.ticks.field("action").tolist() == [int(BookAction.CLEAR)]


def test_going_back_in_time_is_rejected_but_equal_times_are_fine() -> None:
    rows = [trade(T0 + 5, trade_id="a"), trade(T0 + 5, trade_id="b"), trade(T0 + 4, trade_id="c")]
    result = check(TickKind.TRADE, rows)
    assert reasons(result) == [(4, "timestamp", RejectReason.OUT_OF_ORDER)]


def test_a_trade_twice_is_a_duplicate_even_across_chunks() -> None:
    cursor = TickCursor()
    first = check(TickKind.TRADE, [trade(trade_id="a"), trade(trade_id="a", price=101.0)], cursor)
    assert reasons(first) == [(3, "trade_id", RejectReason.DUPLICATE_TRADE)]
    second = check(TickKind.TRADE, [trade(trade_id="a"), trade(T0 + 1, trade_id="a")], cursor)
    assert reasons(second) == [(2, "trade_id", RejectReason.DUPLICATE_TRADE)]
    assert second.ticks.ts_ns.tolist() == [T0 + 1]  # the same id later is another trade


def test_book_sequences_must_not_go_back_even_across_chunks() -> None:
    cursor = TickCursor()
    first = check(TickKind.DELTA, [delta(sequence=5), delta(T0 + 1, sequence=4)], cursor)
    assert reasons(first) == [(3, "sequence", RejectReason.SEQUENCE_DECREASING)]
    second = check(TickKind.DELTA, [delta(T0 + 2, sequence=3), delta(T0 + 3, sequence=5)], cursor)
    assert reasons(second) == [(2, "sequence", RejectReason.SEQUENCE_DECREASING)]
    third = check(TickKind.DELTA, [delta(T0 + 1, sequence=9)], cursor)
    assert reasons(third) == [(2, "timestamp", RejectReason.OUT_OF_ORDER)]


def test_a_crossed_quote_is_a_warning_and_the_row_is_kept() -> None:
    result = check(TickKind.QUOTE, [quote(bid=100.02, ask=100.01), quote(T0 + 1, bid=100.01)])
    assert not result.rejections and len(result.ticks) == 2
    assert [(w.row, w.kind) for w in result.warnings] == [(2, TickWarningKind.CROSSED_QUOTE)]


def test_a_crossed_book_is_a_warning_judged_per_event_across_chunks() -> None:
    cursor = TickCursor()
    bid = delta(side=int(BookSide.BUY), price=100.0)
    ask = delta(side=int(BookSide.SELL), price=100.02)
    crossing = delta(T0 + 1, side=int(BookSide.BUY), price=100.02)  # bid == ask: crossed
    first = check(TickKind.DELTA, [bid, ask, crossing], cursor)
    assert first.warnings == []  # the event at T0 + 1 may go on in the next chunk
    # ... and it does: the same event lifts the ask, so the book is no longer crossed
    lift = delta(T0 + 1, action=int(BookAction.DELETE), side=int(BookSide.SELL), price=100.02)
    again = delta(T0 + 2, side=int(BookSide.SELL), price=100.01)  # ask under the bid
    second = check(TickKind.DELTA, [lift, again], cursor)
    assert second.warnings == []
    ended = cursor.book.finish()
    assert [(w.row, w.ts, w.kind) for w in ended] == [(3, T0 + 2, TickWarningKind.CROSSED_BOOK)]
    assert not first.rejections and not second.rejections


def test_event_ends_carry_exactly_f_last() -> None:
    ts = np.array([T0, T0, T0 + 1, T0 + 2, T0 + 2], dtype=np.int64)
    flags = np.array([32, 32 | F_LAST, F_LAST, 0, 32], dtype=np.uint8)
    ticks = TickColumns(TickKind.DELTA, ts, {"flags": flags})
    assert mark_event_ends(ticks).field("flags").tolist() == [32, F_LAST, F_LAST, 0, F_LAST]


@pytest.mark.parametrize(
    ("offsets", "held"),
    [([0, 1, 1], 2), ([0, 1, 2, 3, 3, 3], 3), ([0, 1, 2], 1), ([5, 5], 2)],
)
def test_a_chunk_never_splits_an_event(offsets: list[int], held: int) -> None:
    ts = np.array([T0 + k for k in offsets], dtype=np.int64)
    ticks = TickColumns(TickKind.QUOTE, ts, {"bid": np.arange(len(ts), dtype=np.float64)})
    rows = np.arange(2, 2 + len(ts))
    head, head_rows, tail, tail_rows = split_last_event(ticks, rows)
    cut = len(ts) - held  # the last instant's rows wait for the next chunk, all of them
    assert head.ts_ns.tolist() == ts[:cut].tolist() and head_rows.tolist() == rows[:cut].tolist()
    assert tail.ts_ns.tolist() == ts[cut:].tolist() and tail_rows.tolist() == rows[cut:].tolist()


def test_sell_side_trades_and_no_aggressor_pass() -> None:
    rows = [trade(aggressor_side=SELL), trade(trade_id="T2", aggressor_side=0)]
    assert not check(TickKind.TRADE, rows).rejections


def test_ts_status_ok_is_zero() -> None:
    assert int(TimestampStatus.OK) == 0  # raw_ticks relies on it


def test_a_merge_puts_the_tables_rows_first_at_an_instant_both_hold_in_their_order() -> None:
    n = 40  # past the size at which an unstable sort reorders equal keys
    ours = TickColumns(
        TickKind.TRADE,
        np.full(n, T0, dtype=np.int64),
        {
            "price": 100.0 + np.arange(n) / 100,
            "size": np.ones(n),
            "aggressor_side": np.full(n, BUY, dtype=np.int8),
            "trade_id": np.array([f"o{k}" for k in range(n)], dtype=object),
        },
    )
    held = ours.take(np.array([5, 9]))  # held already: matched, not kept twice
    extra = TickColumns(
        TickKind.TRADE,
        np.array([T0 - 1, T0, T0 + 1], dtype=np.int64),
        {
            "price": np.array([1.0, 2.0, 3.0]),
            "size": np.ones(3),
            "aggressor_side": np.full(3, SELL, dtype=np.int8),
            "trade_id": np.array(["x0", "x1", "x2"], dtype=object),
        },
    )
    merged, left = merged_inside(ours, TickColumns.concat(TickKind.TRADE, [held, extra]))
    assert left.field("trade_id").tolist() == ["x0", "x1", "x2"]
    expected = ["x0", *[f"o{k}" for k in range(n)], "x1", "x2"]
    assert merged.field("trade_id").tolist() == expected
