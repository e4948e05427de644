"""Property tests of tick ingest against a real Parquet catalog, read back by the engine.

Property 30: invalid data is rejected at ingest. Random trade, quote and delta files with
invalid rows mixed in (each breaking one known rule): every valid row lands in the catalog
equal field by field as the engine reads it, every invalid row is in the rejects with its
reason, the counts add up, and ingesting the file again writes nothing.
Property 25 / 29: what is stored is the engine's own format (read by its catalog API).
"""

import csv
import hashlib
import tempfile
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nautilus_trader.persistence.catalog.parquet import ParquetDataCatalog

from quantdesk.adapters.nautilus.catalog import ParquetCatalog
from quantdesk.adapters.nautilus.tick_store import NautilusTickStore
from quantdesk.adapters.sources.tick_files import TickFileSource
from quantdesk.domain.errors import NothingValidError
from quantdesk.domain.market_data import RejectReason
from quantdesk.domain.ticks import F_LAST, TICK_FIELDS, TickIngestOptions, TickKind
from quantdesk.services.tick_ingest import TickIngestService
from support.bars import iso
from support.ticks import INSTRUMENT, T0, crypto

R = RejectReason
CORRUPTIONS = {
    TickKind.TRADE: [
        R.MALFORMED_ROW, R.TIMESTAMP_UNPARSEABLE, R.TIMESTAMP_NO_TIMEZONE, R.SIDE_INVALID,
        R.TRADE_ID_INVALID, R.VALUE_NOT_A_NUMBER, R.PRICE_NOT_POSITIVE, R.VALUE_TOO_LARGE,
        R.SIZE_NOT_POSITIVE, R.PRICE_PRECISION, R.SIZE_PRECISION, R.OUT_OF_ORDER,
        R.DUPLICATE_TRADE,
    ],
    TickKind.QUOTE: [
        R.MALFORMED_ROW, R.TIMESTAMP_UNPARSEABLE, R.VALUE_NOT_A_NUMBER, R.PRICE_NOT_POSITIVE,
        R.VALUE_TOO_LARGE, R.SIZE_NEGATIVE, R.PRICE_PRECISION, R.SIZE_PRECISION, R.OUT_OF_ORDER,
    ],
    TickKind.DELTA: [
        R.MALFORMED_ROW, R.TIMESTAMP_NO_TIMEZONE, R.ACTION_INVALID, R.SIDE_INVALID,
        R.VALUE_NOT_A_NUMBER, R.PRICE_NOT_POSITIVE, R.SIZE_NOT_POSITIVE, R.PRICE_PRECISION,
        R.OUT_OF_ORDER, R.SEQUENCE_DECREASING,
    ],
}  # fmt: skip
ACTIONS = ("ADD", "UPDATE", "DELETE", "CLEAR")


@dataclass
class File:
    kind: TickKind
    lines: list[list[str]] = field(default_factory=list)
    valid: list[dict[str, object]] = field(default_factory=list)  # expected, in file order
    invalid: dict[int, RejectReason] = field(default_factory=dict)  # line -> reason


def cents(units: int) -> str:
    return f"{Decimal(units) / 100:.2f}"


def thousandths(units: int) -> str:
    return f"{Decimal(units) / 1000:.3f}"


@st.composite
def tick_files(draw: st.DrawFn) -> File:
    kind = draw(st.sampled_from(list(TickKind)))
    out = File(kind)
    n = draw(st.integers(1, 25))
    ts, sequence = T0, 1
    last_valid: dict[str, object] | None = None
    for i in range(n):
        ts += draw(st.sampled_from([0, 0, 1, 1_000_000, 10**9]))
        sequence += draw(st.sampled_from([0, 1]))
        price, size = draw(st.integers(1, 10**7)), draw(st.integers(1, 10**6))
        row: dict[str, object] = {"ts": ts, "price": price, "size": size}
        if kind is TickKind.TRADE:
            row |= {"side": draw(st.sampled_from(["BUYER", "SELLER", "NO_AGGRESSOR"]))}
            row |= {"trade_id": f"t{i}"}
        elif kind is TickKind.QUOTE:
            ask = max(price + draw(st.integers(-5, 50)), 1)  # crossed at times, never <= 0
            row |= {"ask": ask, "ask_size": draw(st.integers(0, 99))}
        else:
            action = draw(st.sampled_from(ACTIONS))
            row |= {"action": action, "side": draw(st.sampled_from(["BUY", "SELL"]))}
            row |= {"sequence": sequence, "flags": draw(st.sampled_from([0, 32]))}
            if action == "DELETE":
                row["size"] = draw(st.sampled_from([0, size]))
        cells = _cells(kind, row)
        reason = draw(st.sampled_from([None, None, None, *CORRUPTIONS[kind]]))
        reason = _applicable(reason, kind, last_valid)
        line = len(out.lines) + 2
        if reason is None:
            out.valid.append(row)
            last_valid = row
        else:
            cells = _corrupt(kind, cells, reason, last_valid)
            out.invalid[line] = reason
        out.lines.append(cells)
    return out


def _applicable(
    reason: RejectReason | None, kind: TickKind, last: dict[str, object] | None
) -> RejectReason | None:
    """Corruptions that need an earlier valid row become valid rows without one."""
    if reason in (R.OUT_OF_ORDER, R.DUPLICATE_TRADE) and last is None:
        return None
    if reason is R.SEQUENCE_DECREASING and (last is None or int(str(last["sequence"])) < 1):
        return None
    return reason


def _cells(kind: TickKind, row: dict[str, object]) -> list[str]:
    ts = iso(int(str(row["ts"])))
    price, size = int(str(row["price"])), int(str(row["size"]))
    if kind is TickKind.TRADE:
        return [ts, cents(price), thousandths(size), str(row["side"]), str(row["trade_id"])]
    if kind is TickKind.QUOTE:
        ask, ask_size = int(str(row["ask"])), int(str(row["ask_size"]))
        return [ts, cents(price), cents(ask), thousandths(size), thousandths(ask_size)]
    return [
        ts, str(row["action"]), str(row["side"]), cents(price), thousandths(size), "0",
        str(row["sequence"]), str(row["flags"]),
    ]  # fmt: skip


_FIELD_AT = {  # reason -> (column index per kind)
    TickKind.TRADE: {"price": 1, "size": 2, "side": 3, "id": 4},
    TickKind.QUOTE: {"price": 1, "size": 3},
    TickKind.DELTA: {"action": 1, "side": 2, "price": 3, "size": 4, "sequence": 6},
}


def _corrupt(
    kind: TickKind, cells: list[str], reason: RejectReason, last: dict[str, object] | None
) -> list[str]:
    at = _FIELD_AT[kind]
    cells = list(cells)
    if kind is TickKind.DELTA and reason is not R.ACTION_INVALID:
        cells[1], cells[4] = "ADD", "1.000"  # a CLEAR ignores side, price, size: use an ADD
    replace = {
        R.TIMESTAMP_UNPARSEABLE: (0, "not-a-time"),
        R.TIMESTAMP_NO_TIMEZONE: (0, cells[0].rstrip("Z")),
        R.SIDE_INVALID: (at.get("side", 0), "SIDEWAYS"),
        R.ACTION_INVALID: (at.get("action", 0), "REPLACE"),
        R.TRADE_ID_INVALID: (at.get("id", 0), "x" * 37),
        R.VALUE_NOT_A_NUMBER: (at["price"], "abc"),
        R.PRICE_NOT_POSITIVE: (at["price"], "-1.00"),
        R.VALUE_TOO_LARGE: (at["price"], "100000000000000.00"),
        R.SIZE_NOT_POSITIVE: (at["size"], "0.000"),
        R.SIZE_NEGATIVE: (at["size"], "-1.000"),
        R.PRICE_PRECISION: (at["price"], cells[at["price"]] + "5"),
        R.SIZE_PRECISION: (at["size"], cells[at["size"]] + "5"),
        R.OUT_OF_ORDER: (0, iso(T0 - 1)),
    }
    if reason is R.MALFORMED_ROW:
        return cells[:2]
    if reason is R.DUPLICATE_TRADE:
        assert last is not None
        return [iso(int(str(last["ts"]))), *cells[1:4], str(last["trade_id"])]
    if reason is R.SEQUENCE_DECREASING:
        assert last is not None
        cells[0] = iso(int(str(last["ts"])))
        cells[at["sequence"]] = str(int(str(last["sequence"])) - 1)
        return cells
    index, text = replace[reason]
    cells[index] = text
    return cells


def _write(path: Path, file: File) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(TICK_FIELDS[file.kind])
        writer.writerows(file.lines)
    return path


def _engine_rows(root: Path, kind: TickKind) -> list[tuple[object, ...]]:
    catalog = ParquetDataCatalog(str(root))
    if kind is TickKind.TRADE:
        return [
            (t.ts_event, t.ts_init, str(t.price), str(t.size), t.aggressor_side.name,
             t.trade_id.value)
            for t in catalog.trade_ticks(instrument_ids=[INSTRUMENT])
        ]  # fmt: skip
    if kind is TickKind.QUOTE:
        return [
            (q.ts_event, q.ts_init, str(q.bid_price), str(q.ask_price), str(q.bid_size),
             str(q.ask_size))
            for q in catalog.quote_ticks(instrument_ids=[INSTRUMENT])
        ]  # fmt: skip
    return [
        (d.ts_event, d.ts_init, d.action.name, d.order.side.name, str(d.order.price),
         str(d.order.size), d.order.order_id, d.sequence, d.flags)
        for d in catalog.order_book_deltas(instrument_ids=[INSTRUMENT])
    ]  # fmt: skip


def _expected(kind: TickKind, valid: list[dict[str, object]]) -> list[tuple[object, ...]]:
    out: list[tuple[object, ...]] = []
    for i, row in enumerate(valid):
        ts, price, size = int(str(row["ts"])), int(str(row["price"])), int(str(row["size"]))
        if kind is TickKind.TRADE:
            side = str(row["side"])
            out.append((ts, ts, cents(price), thousandths(size), side, row["trade_id"]))
        elif kind is TickKind.QUOTE:
            ask, ask_size = int(str(row["ask"])), int(str(row["ask_size"]))
            out.append((ts, ts, cents(price), cents(ask), thousandths(size), thousandths(ask_size)))
        else:
            last = i == len(valid) - 1 or int(str(valid[i + 1]["ts"])) != ts
            flags = F_LAST if last else int(str(row["flags"]))
            if row["action"] == "CLEAR":
                out.append((ts, ts, "CLEAR", "NO_ORDER_SIDE", "0.00", "0.000", 0, row["sequence"],
                            flags))  # fmt: skip
            else:
                out.append((ts, ts, row["action"], row["side"], cents(price), thousandths(size),
                            0, row["sequence"], flags))  # fmt: skip
    return out


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


# Property 30: invalid data is rejected at ingest
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(file=tick_files(), chunk_rows=st.integers(1, 8))
def test_every_valid_tick_lands_and_every_invalid_one_is_rejected(
    file: File, chunk_rows: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        bars = ParquetCatalog(home / "catalog")
        bars.put_instrument(crypto())
        service = TickIngestService(
            bars, NautilusTickStore(home / "catalog"), TickFileSource(), home / "ingest"
        )
        path = _write(home / "ticks.csv", file)
        options = TickIngestOptions(chunk_rows=chunk_rows)
        if not file.valid:
            with pytest.raises(NothingValidError):
                service.ingest(path, file.kind, INSTRUMENT, options)
            assert not list((home / "catalog" / "data").glob(f"{file.kind.value}/*/*.parquet"))
            return
        summary = service.ingest(path, file.kind, INSTRUMENT, options)
        assert _engine_rows(home / "catalog", file.kind) == _expected(file.kind, file.valid)
        rejected: dict[int, RejectReason] = {}
        if summary.rejects_path is not None:
            with Path(summary.rejects_path).open(newline="") as handle:
                lines = [(int(r["row"]), RejectReason(r["reason"])) for r in csv.DictReader(handle)]
            assert [row for row, _ in lines] == sorted(row for row, _ in lines)  # in file order
            rejected = dict(lines)
        assert rejected == file.invalid
        assert (summary.rows_read, summary.rows_written) == (len(file.lines), len(file.valid))
        before = _snapshot(home / "catalog")
        again = service.ingest(path, file.kind, INSTRUMENT, TickIngestOptions(chunk_rows=5))
        assert (again.rows_written, again.rows_already_present) == (0, len(file.valid))
        assert again.rejected_by_reason == summary.rejected_by_reason
        assert _snapshot(home / "catalog") == before
