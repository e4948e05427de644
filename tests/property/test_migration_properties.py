"""The migration's properties on random tables in the real PostgreSQL server.

# Property 26: PostgreSQL migration loses and corrupts nothing
# Property 28: incremental additions without rebuilds

Tables mix clean rows with NULLs, NaN, duplicates of an instant, OHLC that does not hold,
prices off the tick, values too large, times no datetime holds (infinity, BC, year 10000),
in random physical order and with random chunk sizes. Every clean row must reach the catalog
equal field by field, every other row must be in the rejects with a reason, and verify must
pass; runs after random inserts (new and late) must write exactly the inserted rows.
"""

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantdesk.domain.migration import MigrationState
from quantdesk.services.migrations import MigrationService
from support.postgres_bars import BAR_TYPE, START, bars_table, mapping, migration_service

pytestmark = pytest.mark.services

PROPERTY = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
MINUTES = 3 * 24 * 60  # three UTC days
INSERT = "INSERT INTO bars (id, ts, o, h, l, c, v) VALUES (%s, %s, %s, %s, %s, %s, %s)"
Cell = object


@dataclass(frozen=True)
class Row:
    id: int
    ts: Cell  # a datetime, None, or a time's SQL text ('infinity')
    values: tuple[Cell, Cell, Cell, Cell, Cell]  # open, high, low, close, volume as SQL text
    clean: bool


@st.composite
def clean_values(draw: st.DrawFn) -> tuple[str, str, str, str, str]:
    low = draw(st.integers(1, 10**7))
    high = low + draw(st.integers(0, 10**5))
    open_, close = (draw(st.integers(low, high)) for _ in range(2))
    volume = draw(st.integers(0, 10**9))
    return (*(str(Decimal(x) / 100) for x in (open_, high, low, close)), str(volume))  # type: ignore[return-value]


DIRTY = (
    "null_ts",
    "null_value",
    "nan",
    "not_positive",
    "high_below_body",
    "off_tick",
    "too_large",
    "volume_negative",
    "infinity",
    "minus_infinity",
    "bc",
    "year_10000",
    "duplicate",
)


@st.composite
def tables(draw: st.DrawFn) -> list[Row]:
    minutes = draw(st.lists(st.integers(0, MINUTES - 1), unique=True, max_size=30))
    ids = draw(st.permutations(range(1, len(minutes) + 1)))  # id order is not time order
    rows = [
        Row(i, START + timedelta(minutes=m), draw(clean_values()), True)
        for i, m in zip(ids, minutes, strict=True)
    ]
    for k, kind in enumerate(draw(st.lists(st.sampled_from(DIRTY), max_size=15))):
        rows.append(dirty(draw, kind, 10_000 + k, [r for r in rows if r.clean]))
    return draw(st.permutations(rows))  # the physical order of insertion


def dirty(draw: st.DrawFn, kind: str, id_: int, clean: list[Row]) -> Row:
    """A row the validation must reject, for the reason ``kind`` names."""
    o, h, low, c, v = draw(clean_values())
    ts: Cell = START + timedelta(minutes=draw(st.integers(0, MINUTES - 1)))
    field = draw(st.integers(0, 4))
    values: list[Cell] = [o, h, low, c, v]
    match kind:
        case "null_ts":
            ts = None
        case "null_value":
            values[field] = None
        case "nan":
            values[field] = "NaN"
        case "not_positive":  # open and low at or below zero, the rest as drawn
            values[0] = values[2] = draw(st.sampled_from(["0", "-1", "-0.01"]))
        case "high_below_body":
            values[1] = str(Decimal(max(o, c, key=Decimal)) - Decimal("0.01"))
        case "off_tick":
            values[field % 4] = str(Decimal(values[field % 4]) + Decimal("0.001"))  # type: ignore[arg-type]
        case "too_large":
            values[field] = "1e30"
        case "volume_negative":
            values[4] = "-1"
        case "infinity" | "minus_infinity" | "bc" | "year_10000":
            ts = {
                "infinity": "infinity",
                "minus_infinity": "-infinity",
                "bc": "0044-03-15 12:00:00+00 BC",
                "year_10000": "10000-01-01 00:00:00+00",
            }[kind]
        case "duplicate":  # a later id at a clean row's instant, equal or not: it goes
            if not clean:
                ts = None
            else:
                twin = draw(st.sampled_from(clean))
                ts = twin.ts
                values = list(draw(st.sampled_from([twin.values, tuple(values)])))
    return Row(id_, ts, tuple(values), False)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def dsn() -> Iterator[str]:
    with bars_table() as url, psycopg.connect(url, autocommit=True) as db:
        db.execute("ALTER TABLE bars ALTER COLUMN id DROP DEFAULT")
        yield url


def load(dsn: str, rows: list[Row], *, fresh: bool) -> None:
    with psycopg.connect(dsn, autocommit=True) as db, db.cursor() as cursor:
        if fresh:
            cursor.execute("TRUNCATE bars")
        cursor.executemany(INSERT, [(r.id, r.ts, *r.values) for r in rows])


def read_order(dsn: str) -> dict[int, int]:
    """Row number (as the reader numbers a read) -> id: PostgreSQL's own ORDER BY."""
    with psycopg.connect(dsn) as db:
        found = db.execute(
            "SELECT row_number() OVER (ORDER BY ts NULLS LAST, id), id FROM bars"
        ).fetchall()
    return {int(n): int(i) for n, i in found}


def expected(rows: list[Row]) -> dict[int, tuple[float, ...]]:
    """The catalog the clean rows make: close time in ns -> the five values."""
    out = {}
    for r in rows:
        if r.clean:
            ns = int(r.ts.timestamp()) * 10**9  # type: ignore[attr-defined]
            out[ns] = tuple(float(Decimal(str(x))) for x in r.values)
    return out


def held(service: MigrationService) -> dict[int, tuple[float, ...]]:
    bars = service.catalog.read_bars(BAR_TYPE, 0, 2**62)
    columns = [bars.open, bars.high, bars.low, bars.close, bars.volume]
    return {
        int(ts): tuple(float(col[k]) for col in columns) for k, ts in enumerate(bars.ts_ns.tolist())
    }


@PROPERTY
@given(rows=tables(), chunk_rows=st.integers(1, 12))
def test_every_clean_row_lands_exactly_and_every_other_is_rejected_with_a_reason(
    dsn: str, rows: list[Row], chunk_rows: int
) -> None:
    load(dsn, rows, fresh=True)
    with tempfile.TemporaryDirectory() as folder:
        service = migration_service(Path(folder))
        run = service.migrate(mapping(chunk_rows=chunk_rows), dsn)
        assert run.state is MigrationState.COMPLETED and run.rows_read == len(rows)
        assert held(service) == expected(rows)  # field by field, nothing else
        order = read_order(dsn)
        rejected = service.rejections(run.migration_id)
        assert all(r.reason and r.detail for r in rejected)
        assert {order[r.row] for r in rejected} == {r.id for r in rows if not r.clean}
        assert run.rows_written == sum(r.clean for r in rows)
        if any(r.clean for r in rows):
            assert service.verify(mapping(chunk_rows=chunk_rows), dsn).passed


@st.composite
def batches(draw: st.DrawFn) -> list[list[Row]]:
    """Clean rows in batches at distinct instants: a later batch may land before the
    watermark (late rows) or after it."""
    minutes = draw(st.lists(st.integers(0, MINUTES - 1), unique=True, min_size=1, max_size=40))
    cuts = sorted(draw(st.lists(st.integers(1, len(minutes)), max_size=4)))
    out, start, next_id = [], 0, 1
    for end in [*cuts, len(minutes)]:
        batch = []
        for m in minutes[start:end]:
            batch.append(Row(next_id, START + timedelta(minutes=m), draw(clean_values()), True))
            next_id += 1
        out.append(batch)
        start = end
    return out


@PROPERTY
@given(steps=batches(), chunk_rows=st.integers(1, 9))
def test_each_run_after_inserts_writes_exactly_the_new_rows(
    dsn: str, steps: list[list[Row]], chunk_rows: int
) -> None:
    with psycopg.connect(dsn, autocommit=True) as db:
        db.execute("TRUNCATE bars")
    with tempfile.TemporaryDirectory() as folder:
        service = migration_service(Path(folder))
        so_far: list[Row] = []
        for batch in steps:
            load(dsn, batch, fresh=False)
            so_far += batch
            run = service.migrate(mapping(chunk_rows=chunk_rows), dsn)
            assert run.rows_written == len(batch) and run.rows_rejected == 0
            assert held(service) == expected(so_far)
        assert service.migrate(mapping(chunk_rows=chunk_rows), dsn).rows_read == 0
        assert service.verify(mapping(chunk_rows=chunk_rows), dsn).passed
