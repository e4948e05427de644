"""Validated ticks against what the catalog holds: present, new, or refused.

Tick series are append-only: a tick is new only if it is later than the series' last
stored tick. A tick at or before it must already be there (re-ingesting a file, or a file
overlapping an earlier one), by identity:

- trade: (ts_event, trade_id); the same identity with another price, size or side is a
  ``conflicts_with_catalog`` rejection: existing data is never overwritten;
- quote: every field (ts_event, bid, ask, bid_size, ask_size); equal quotes are counted,
  so a file holding the same quote twice needs it twice in the catalog;
- delta: (ts_event, sequence, action, side, price, size, order_id), counted likewise; the
  flags are not part of it, since ingest sets ``F_LAST`` itself.

A tick inside the stored range that is not there is refused as ``conflicts_with_catalog``:
inserting into a stored book stream would change every later book state, and merging late
trades or quotes into stored files is not supported (see docs/ticks.md). The one exception
is a migration re-reading a day its table grew in: the table is the authority for the rows
it gives, so they take their place in the series (``merged_inside``); the series' rows the
table no longer gives stay where they are (``verify`` then shows that day), and a trade id
the series holds with other values is still refused.
"""

from dataclasses import dataclass, field

import numpy as np

from quantdesk.domain.market_data import Rejection, RejectReason
from quantdesk.domain.ticks import F_LAST, TickKind
from quantdesk.domain.time import ns_to_iso
from quantdesk.services.columns import BoolArray, Int64Array
from quantdesk.services.ports.ticks import TickAppend
from quantdesk.services.tick_columns import TickColumns
from quantdesk.services.tick_digests import digested_fields
from quantdesk.services.tick_keys import Keys, row_keys, with_occurrence


@dataclass(frozen=True, eq=False)
class Judged:
    """Which rows of a batch are new, how many were present, and the refused ones; of
    those, the indices of rows inside the stored range that the series lacks (``missing``)
    and of trades it holds with other values (``changed``)."""

    new: BoolArray
    present: int
    rejections: list[Rejection]
    missing: list[int] = field(default_factory=list)
    changed: list[int] = field(default_factory=list)


def judge_against_catalog(
    ticks: TickColumns, rows: Int64Array, append: TickAppend, last_sequence: int | None
) -> Judged:
    n = len(ticks)
    span = append.span
    new: BoolArray = np.ones(n, dtype=np.bool_) if span is None else ticks.ts_ns > span[1]
    rejections: list[Rejection] = []
    missing: list[int] = []
    changed: list[int] = []
    present = 0
    if span is not None and not bool(new.all()):
        inside = np.flatnonzero(~new)
        held = append.held(int(ticks.ts_ns[inside[0]]), int(ticks.ts_ns[inside[-1]]))
        found, differs = _match(ticks, inside, held)
        present = int(np.count_nonzero(found))
        for index, other in zip(inside[~found].tolist(), differs, strict=True):
            rejections.append(_refusal(ticks, rows, index, span[1], other))
            (missing if other is None else changed).append(index)
    if ticks.kind is TickKind.DELTA and last_sequence is not None:
        below = new & (ticks.field("sequence") < np.uint64(last_sequence))
        for index in np.flatnonzero(below).tolist():
            rejections.append(
                Rejection(
                    row=int(rows[index]),
                    field="sequence",
                    value=str(int(ticks.field("sequence")[index])),
                    reason=RejectReason.SEQUENCE_DECREASING,
                    detail=f"below the last sequence number the catalog holds ({last_sequence})",
                )
            )
        new &= ~below
    return Judged(new, present, rejections, missing, changed)


_IDENTITY = {
    TickKind.TRADE: ("trade_id",),
    TickKind.QUOTE: ("bid", "ask", "bid_size", "ask_size"),
    TickKind.DELTA: ("sequence", "action", "side", "price", "size", "order_id"),
}
_TRADE_VALUES = ("price", "size", "aggressor_side")


def _keys(ticks: TickColumns, names: tuple[str, ...]) -> Keys:
    return row_keys(ticks.ts_ns, *(ticks.field(name) for name in names))


def _match(
    ticks: TickColumns, inside: Int64Array, held: TickColumns
) -> tuple[BoolArray, list[str | None]]:
    """Which rows the catalog holds, and for the others what it holds instead (trades)."""
    rows = ticks.take(inside)
    names = _IDENTITY[ticks.kind]
    if ticks.kind is not TickKind.TRADE:
        found = np.isin(with_occurrence(_keys(rows, names)), with_occurrence(_keys(held, names)))
        return found, [None] * int(np.count_nonzero(~found))
    full = (*names, *_TRADE_VALUES)
    found = np.isin(_keys(rows, full), _keys(held, full))
    missing = np.flatnonzero(~found)
    differs: list[str | None] = [None] * len(missing)
    if missing.size:
        stored = _keys(held, names)
        where = {key: i for i, key in enumerate(stored.tolist())}
        for k, key in enumerate(_keys(rows.take(missing), names).tolist()):
            index = where.get(key)
            if index is not None:
                price, size, side = (held.field(n)[index].item() for n in _TRADE_VALUES)
                differs[k] = f"price {price!r}, size {size!r}, aggressor side {side}"
    return found, differs


def _refusal(
    ticks: TickColumns, rows: Int64Array, index: int, last_ts: int, other: str | None
) -> Rejection:
    if other is not None:
        detail = f"the catalog holds this trade id at this time with {other}"
    else:
        detail = (
            f"the catalog holds {ticks.kind.noun} up to {ns_to_iso(last_ts)} and not this one; "
            "ticks are only appended after the last stored tick"
        )
    return Rejection(
        row=int(rows[index]),
        field="trade_id" if other is not None else "timestamp",
        value=str(ticks.field("trade_id")[index])
        if other is not None
        else ns_to_iso(int(ticks.ts_ns[index])),
        reason=RejectReason.CONFLICTS_WITH_CATALOG,
        detail=detail,
    )


def merged_inside(ours: TickColumns, held: TickColumns) -> tuple[TickColumns, TickColumns]:
    """``ours`` (a re-read range of the table, in its order) with the series' rows over the
    same range that are not among them (field by field, as many times) kept in their place,
    after ours at an instant both have; and those rows of the series (the rows kept)."""
    extra = held.take(~np.isin(_occurrences(held), _occurrences(ours)))
    both = TickColumns.concat(ours.kind, [ours, extra])
    return both.take(np.argsort(both.ts_ns, kind="stable")), extra


def without(rows: TickColumns, these: TickColumns) -> TickColumns:
    """``rows`` less ``these`` (field by field, as many times as ``these`` holds each)."""
    if not len(these):
        return rows
    return rows.take(~np.isin(_occurrences(rows), _occurrences(these)))


def _occurrences(ticks: TickColumns) -> Keys:
    return with_occurrence(_keys(ticks, digested_fields(ticks.kind)))


def mark_event_ends(ticks: TickColumns) -> TickColumns:
    """``flags = F_LAST`` exactly on the last delta of each timestamp, cleared elsewhere.

    The engine closes a batch of deltas only on ``flags == F_LAST`` (other bits set, the
    batch runs on), so the closing delta keeps no other flag; the rest keep theirs.
    """
    if ticks.kind is not TickKind.DELTA or not len(ticks):
        return ticks
    ends = np.append(ticks.ts_ns[1:] != ticks.ts_ns[:-1], True)
    flags = ticks.field("flags") & np.uint8(0xFF ^ F_LAST)
    return ticks.with_field("flags", np.where(ends, np.uint8(F_LAST), flags).astype(np.uint8))


def split_last_event(
    ticks: TickColumns, rows: Int64Array
) -> tuple[TickColumns, Int64Array, TickColumns, Int64Array]:
    """The ticks before the last timestamp, and those at it (held for the next chunk, so a
    chunk never splits an event and staged files never share a timestamp)."""
    if not len(ticks):
        return ticks, rows, ticks, rows
    cut = int(np.searchsorted(ticks.ts_ns, ticks.ts_ns[-1], side="left"))
    head, tail = np.arange(cut), np.arange(cut, len(ticks))
    return ticks.take(head), rows[head], ticks.take(tail), rows[tail]
