"""The migration's properties on random tick tables in the real PostgreSQL server.

# Property 26: PostgreSQL migration loses and corrupts nothing (trade ticks, quote ticks,
# order-book deltas)
# Property 28: incremental additions without rebuilds (ticks, late ones included)

Tables of one kind each mix clean rows (instants shared by several rows, as ticks share
them) with NULLs, NaN, prices at or below zero or off the tick, values too large, sizes the
kind forbids, unknown sides and actions, a trade printed twice, a book sequence going back,
and times no datetime holds, in random physical order, read in random chunk sizes. Every
clean row must reach the catalog equal field by field and in the table's (time, id) order,
every other row must be in the rejects with a reason, and verify must pass; runs after
random inserts (new and late) must leave the catalog equal to the clean rows so far.
"""

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakes import InMemoryMigrationStore
from quantdesk.adapters.nautilus.catalog import ParquetCatalog
from quantdesk.adapters.nautilus.tick_reads import ParquetTickCatalog
from quantdesk.adapters.nautilus.tick_store import NautilusTickStore
from quantdesk.adapters.sources.postgres_tables import PostgresTableSource
from quantdesk.domain.migration import MigrationState
from quantdesk.domain.source_mapping import SourceMapping
from quantdesk.domain.ticks import BookAction, TickKind
from quantdesk.services.migrations import MigrationService
from quantdesk.services.tick_columns import value_fields
from support.registry import postgres_database
from support.ticks import INSTRUMENT, crypto

pytestmark = pytest.mark.services

PROPERTY = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
START = datetime(2024, 1, 2, tzinfo=UTC)
SECONDS = 3 * 86_400  # three UTC days
KINDS = {
    "trade_ticks": TickKind.TRADE,
    "quote_ticks": TickKind.QUOTE,
    "order_book_deltas": TickKind.DELTA,
}
COLUMNS = {
    "trade_ticks": ("price", "size", "aggressor_side", "trade_id"),
    "quote_ticks": ("bid", "ask", "bid_size", "ask_size"),
    "order_book_deltas": ("action", "side", "price", "size", "order_id", "sequence"),
}
SCHEMA = """
CREATE TABLE trade_ticks (id bigint PRIMARY KEY, ts timestamptz, price numeric,
    size numeric, aggressor_side text, trade_id text);
CREATE TABLE quote_ticks (id bigint PRIMARY KEY, ts timestamptz, bid numeric, ask numeric,
    bid_size numeric, ask_size numeric);
CREATE TABLE order_book_deltas (id bigint PRIMARY KEY, ts timestamptz, action text,
    side text, price numeric, size numeric, order_id numeric, sequence bigint);
"""
Cell = object


@dataclass(frozen=True)
class Row:
    id: int
    ts: Cell  # a datetime, None, or a time's SQL text ('infinity')
    values: tuple[Cell, ...]  # COLUMNS[kind] as SQL text (or None)
    clean: bool


def price(draw: st.DrawFn) -> str:
    return str(Decimal(draw(st.integers(1, 10**7))) / 100)


def size(draw: st.DrawFn, least: int = 1) -> str:
    return str(Decimal(draw(st.integers(least, 10**6))) / 1000)


def clean_values(draw: st.DrawFn, table: str, id_: int) -> tuple[Cell, ...]:
    if table == "trade_ticks":
        return (price(draw), size(draw), draw(st.sampled_from(["BUY", "SELL"])), f"t{id_}")
    if table == "quote_ticks":
        return (price(draw), price(draw), size(draw, 0), size(draw, 0))
    action = draw(st.sampled_from(["ADD", "UPDATE", "DELETE", "CLEAR"]))
    least = 1 if action in ("ADD", "UPDATE") else 0
    side = draw(st.sampled_from(["BID", "ASK"]))
    return (action, side, price(draw), size(draw, least), str(draw(st.integers(0, 10**6))), None)


DIRTY = {
    "trade_ticks": ("bad_side", "zero_size", "twice", "no_trade_id"),
    "quote_ticks": ("negative_size",),
    "order_book_deltas": ("bad_action", "no_side", "negative_size", "sequence_back"),
}
COMMON = ("null_ts", "null_price", "nan", "not_positive", "off_tick", "too_large", "infinity", "bc")


@st.composite
def tables(draw: st.DrawFn) -> tuple[str, list[Row]]:
    table = draw(st.sampled_from(sorted(KINDS)))
    seconds = draw(st.lists(st.integers(0, SECONDS - 1), min_size=1, max_size=16))
    rows = [
        Row(i, START + timedelta(seconds=s), clean_values(draw, table, i), True)
        for i, s in enumerate(seconds, start=1)
    ]
    rows = with_sequences(table, rows)
    kinds = draw(st.lists(st.sampled_from(COMMON + DIRTY[table]), max_size=8))
    for k, kind in enumerate(kinds):
        rows.append(dirty(draw, table, kind, 10_000 + k, rows[: len(seconds)]))
    return table, draw(st.permutations(rows))


def with_sequences(table: str, rows: list[Row]) -> list[Row]:
    """Book sequences 1, 2, ... in the table's (time, id) order: clean means non-decreasing."""
    if table != "order_book_deltas":
        return rows
    ordered = sorted(rows, key=lambda r: (r.ts, r.id))  # type: ignore[arg-type, return-value]
    numbered = {r.id: n for n, r in enumerate(ordered, start=1)}
    return [Row(r.id, r.ts, (*r.values[:5], str(numbered[r.id])), True) for r in rows]


def dirty(draw: st.DrawFn, table: str, kind: str, id_: int, clean: list[Row]) -> Row:
    """A row the rules must reject, for the reason ``kind`` names (its id after every clean
    row's, so a twin is the second of the two)."""
    twin = draw(st.sampled_from(clean))
    ts: Cell = twin.ts
    values = list(twin.values)
    prices = [i for i, c in enumerate(COLUMNS[table]) if c in ("price", "bid", "ask")]
    sizes = [i for i, c in enumerate(COLUMNS[table]) if c.endswith("size")]
    at = draw(st.sampled_from(prices))
    if table == "order_book_deltas":
        values[0] = "ADD"  # a CLEAR ignores its price and size; an ADD does not
        values[5] = twin.values[5]
    if table == "trade_ticks":
        values[3] = f"d{id_}"
    match kind:
        case "null_ts":
            ts = None
        case "null_price":
            values[at] = None
        case "nan":
            values[at] = "NaN"
        case "not_positive":
            values[at] = draw(st.sampled_from(["0", "-1", "-0.01"]))
        case "off_tick":
            values[at] = str(Decimal(str(values[at])) + Decimal("0.001"))
        case "too_large":
            values[at] = "1e30"
        case "infinity" | "bc":
            ts = "infinity" if kind == "infinity" else "0044-03-15 12:00:00+00 BC"
        case "bad_side":
            values[2] = "SIDEWAYS"
        case "zero_size":
            values[1] = "0"
        case "twice":
            values[3] = twin.values[3]  # the twin's trade id at the twin's instant
        case "no_trade_id":
            values[3] = ""
        case "negative_size":
            values[draw(st.sampled_from(sizes))] = "-1"
        case "bad_action":
            values[0] = "REPLACE"
        case "no_side":
            values[1] = None
        case "sequence_back":
            values[5] = str(int(str(twin.values[5])) - 1)  # after the twin, a lower number
    return Row(id_, ts, tuple(values), False)


@pytest.fixture(scope="module")
def dsn() -> Iterator[str]:
    with postgres_database() as url:
        plain = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(plain, autocommit=True) as db:
            db.execute(SCHEMA)
        yield plain


def load(dsn: str, table: str, rows: list[Row], *, fresh: bool) -> None:
    names = ", ".join(("id", "ts", *COLUMNS[table]))
    marks = ", ".join(["%s"] * (2 + len(COLUMNS[table])))
    with psycopg.connect(dsn, autocommit=True) as db, db.cursor() as cursor:
        if fresh:
            cursor.execute(f"TRUNCATE {table}")
        cursor.executemany(
            f"INSERT INTO {table} ({names}) VALUES ({marks})",
            [(r.id, r.ts, *r.values) for r in rows],
        )


def mapping(table: str, chunk_rows: int) -> SourceMapping:
    return SourceMapping.model_validate(
        {
            "name": f"p-{table}",
            "kind": table,
            "table": table,
            "timestamp": {"column": "ts"},
            "instrument": {"instrument_id": INSTRUMENT},
            "key": "id",
            "chunk_rows": chunk_rows,
        }
    )


def service(folder: Path) -> MigrationService:
    catalog = ParquetCatalog(folder / "catalog")
    catalog.put_instrument(crypto())
    ticks = (NautilusTickStore(catalog.root), ParquetTickCatalog(catalog.root))
    return MigrationService(catalog, InMemoryMigrationStore(), PostgresTableSource, ticks=ticks)


def expected(table: str, rows: list[Row]) -> list[tuple[Any, ...]]:
    """The clean rows as the catalog must hold them, in the table's (time, id) order."""
    out = []
    for r in sorted((r for r in rows if r.clean), key=lambda r: (r.ts, r.id)):  # type: ignore[arg-type, return-value]
        ns = int(r.ts.timestamp()) * 10**9  # type: ignore[attr-defined]
        out.append((ns, *stored(table, r.values)))
    return out


def stored(table: str, values: tuple[Cell, ...]) -> tuple[Any, ...]:
    """What the catalog stores for clean cells: numbers as the nearest double, codes."""
    if table == "trade_ticks":
        p, q, side, trade_id = values
        return (float(str(p)), float(str(q)), 1 if side == "BUY" else 2, trade_id)
    if table == "quote_ticks":
        return tuple(float(str(v)) for v in values)
    action, side, p, q, order_id, sequence = values
    code = int(BookAction[str(action)])
    if code == BookAction.CLEAR:  # the engine's null order
        return (code, 0, 0.0, 0.0, 0, int(str(sequence)))
    return (
        code,
        1 if side == "BID" else 2,
        float(str(p)),
        float(str(q)),
        int(str(order_id)),
        int(str(sequence)),
    )


def held(service: MigrationService, table: str) -> list[tuple[Any, ...]]:
    kind = KINDS[table]
    ticks = ParquetTickCatalog(service.catalog.root).read_ticks(kind, INSTRUMENT, 0, 2**62)
    fields = [f for f in value_fields(kind) if f != "flags"]
    columns = [ticks.field(f).tolist() for f in fields]
    return [(ts, *(c[k] for c in columns)) for k, ts in enumerate(ticks.ts_ns.tolist())]


def read_order(dsn: str, table: str) -> dict[int, int]:
    """Row number (as the reader numbers a read) -> id: PostgreSQL's own ORDER BY."""
    with psycopg.connect(dsn) as db:
        found = db.execute(
            f"SELECT row_number() OVER (ORDER BY ts NULLS LAST, id), id FROM {table}"
        ).fetchall()
    return {int(n): int(i) for n, i in found}


@PROPERTY
@given(drawn=tables(), chunk_rows=st.integers(3, 12))
def test_every_clean_tick_lands_exactly_and_every_other_is_rejected_with_a_reason(
    dsn: str, drawn: tuple[str, list[Row]], chunk_rows: int
) -> None:
    table, rows = drawn
    load(dsn, table, rows, fresh=True)
    with tempfile.TemporaryDirectory() as folder:
        migrations = service(Path(folder))
        run = migrations.migrate(mapping(table, chunk_rows), dsn)
        assert run.state is MigrationState.COMPLETED and run.rows_read == len(rows)
        assert held(migrations, table) == expected(table, rows)  # field by field, in order
        order = read_order(dsn, table)
        rejected = migrations.rejections(run.migration_id)
        assert all(r.reason and r.detail for r in rejected)
        assert {order[r.row] for r in rejected} == {r.id for r in rows if not r.clean}
        assert run.rows_written == sum(r.clean for r in rows)
        assert migrations.verify(mapping(table, chunk_rows), dsn).passed


@st.composite
def batches(draw: st.DrawFn) -> tuple[str, list[list[Row]]]:
    """Clean rows in batches: a later batch may land before the watermark (late rows,
    sharing instants with earlier ones) or after it."""
    table = draw(st.sampled_from(["trade_ticks", "quote_ticks"]))
    seconds = draw(st.lists(st.integers(0, SECONDS - 1), min_size=2, max_size=12))
    cuts = sorted(draw(st.lists(st.integers(1, len(seconds) - 1), min_size=1, max_size=2)))
    out, start = [], 0
    for end in [*cuts, len(seconds)]:
        out.append(
            [
                Row(i, START + timedelta(seconds=s), clean_values(draw, table, i), True)
                for i, s in enumerate(seconds[start:end], start=start + 1)
            ]
        )
        start = end
    return table, out


@PROPERTY
@given(drawn=batches(), chunk_rows=st.integers(3, 12))
def test_each_run_after_inserts_leaves_exactly_the_rows_so_far(
    dsn: str, drawn: tuple[str, list[list[Row]]], chunk_rows: int
) -> None:
    table, steps = drawn
    load(dsn, table, [], fresh=True)
    with tempfile.TemporaryDirectory() as folder:
        migrations = service(Path(folder))
        so_far: list[Row] = []
        for batch in steps:
            load(dsn, table, batch, fresh=False)
            so_far += batch
            run = migrations.migrate(mapping(table, chunk_rows), dsn)
            assert run.rows_rejected == 0
            assert held(migrations, table) == expected(table, so_far)
        assert migrations.migrate(mapping(table, chunk_rows), dsn).rows_read == 0
        assert migrations.verify(mapping(table, chunk_rows), dsn).passed
