"""What the PostgreSQL reader computes on our side equals what the server computes, on the
real server: a numeric's text made a double is the server's own cast of it (huge values
the sign's infinity, as the reader's guarded cast on the server made them), a row's source
day is the server's (``day_counts``), and the plain read of a snapshot whose times all fit
gives the very chunks the guarded read (a test per row) gives.

# Property 26: PostgreSQL migration loses and corrupts nothing
"""

import math
import struct
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from quantdesk.adapters.sources import postgres_batches
from quantdesk.adapters.sources.postgres_columns import doubles
from quantdesk.adapters.sources.postgres_tables import PostgresSnapshot, PostgresTableSource
from quantdesk.domain.migration import Watermark
from quantdesk.domain.source_mapping import SourceMapping
from quantdesk.services.columns import VALUE_FIELDS
from quantdesk.services.ports.table_sources import BarChunk, DayWindow
from support.registry import postgres_database
from support.table_sources import bars_mapping, source_day

pytestmark = pytest.mark.services

PROPERTY = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# the reader's cast before the text read: the reference a numeric's double must equal
GUARDED_CAST = (
    "CASE WHEN v BETWEEN -1e300 AND 1e300 THEN v::float8 WHEN v = 'NaN' THEN 'NaN'::float8 "
    "ELSE sign(v)::float8 * 'Infinity'::float8 END"
)
TEN_300 = "1" + "0" * 300
COLUMN_TYPES = {
    "timestamp": "timestamptz",
    "naive": "timestamp",
    "s": "bigint",
    "ms": "bigint",
    "us": "bigint",
    "ns": "bigint",
}
OUT_OF_RANGE = ["infinity", "-infinity", "0044-03-15 12:00:00+00 BC", "10000-01-01 00:00:00+00"]


@pytest.fixture(scope="module")
def dsn() -> Iterator[str]:
    with postgres_database() as url:
        plain = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(plain, autocommit=True) as db:
            for name, sql_type in COLUMN_TYPES.items():
                db.execute(
                    f"CREATE TABLE t_{name} (id serial PRIMARY KEY, ts {sql_type}, "
                    "o numeric, h numeric, l numeric, c numeric, v numeric)"
                )
        yield plain


def same_double(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or struct.pack("<d", a) == struct.pack("<d", b)


numerics = st.one_of(
    st.builds(
        lambda sign, digits, point, exponent: (
            f"{sign}{digits[:point]}.{digits[point:]}0e{exponent}"
        ),
        st.sampled_from(["", "-"]),
        st.text("0123456789", min_size=1, max_size=40),
        st.integers(0, 40),
        st.integers(-280, 320),  # down to subnormals: no cast refuses them
    ),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "0", "1e300", "-1e300", "1e308", "2e308"]),
)


@PROPERTY
@given(values=st.lists(numerics, min_size=1, max_size=30))
@example(values=[TEN_300, f"{TEN_300}.000001", f"-{TEN_300}1", "9" * 300, f"-{'9' * 300}.9"])
def test_a_numerics_text_reads_as_the_servers_cast(dsn: str, values: list[str]) -> None:
    with psycopg.connect(dsn) as db:
        rows = db.execute(
            f"SELECT v::text, {GUARDED_CAST} FROM unnest(%s::numeric[]) v", (values,)
        ).fetchall()
    texts = [str(r[0]) for r in rows]
    got = doubles(pa.array(texts)).to_pylist()
    assert all(same_double(g, float(r[1])) for g, r in zip(got, rows, strict=True)), (
        texts,
        got,
    )


def test_a_numeric_below_the_smallest_double_is_zero() -> None:
    # the server's cast refuses it (an underflow); the value is read, as zero
    assert doubles(pa.array(["0." + "0" * 400 + "1", None])).to_pylist() == [0.0, None]


@st.composite
def times(draw: st.DrawFn) -> tuple[str, list[object]]:
    """A kind of time column and its cells: instants anywhere in years 1 to 9999, midnights
    and the microsecond either side of one, before 1970 and after, and NULLs."""
    kind = draw(st.sampled_from(sorted(COLUMN_TYPES)))
    midnight = draw(st.datetimes(datetime(1, 1, 2), datetime(9999, 12, 30))).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    near = st.sampled_from([midnight + timedelta(microseconds=d) for d in (-1, 0, 1)])
    anywhere = st.datetimes(datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59, 999_999))
    stamps = draw(st.lists(st.one_of(near, anywhere, st.none()), min_size=1, max_size=12))
    if kind == "naive":
        return kind, list(stamps)
    if kind == "timestamp":
        return kind, [None if s is None else s.replace(tzinfo=UTC) for s in stamps]
    epoch = datetime(1970, 1, 1)
    per_second = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}[kind]
    cells: list[object] = []
    for stamp in stamps:
        if stamp is None:
            cells.append(None)
            continue
        if kind == "ns":  # what int64 nanoseconds hold: years 1678 to 2262
            stamp = min(max(stamp, datetime(1678, 1, 1)), datetime(2262, 1, 1))
        micros = (stamp - epoch) // timedelta(microseconds=1)
        whole = micros * per_second // 1_000_000  # floor: a count of the unit
        cells.append(whole + draw(st.integers(0, 999)) if kind == "ns" else whole)
    return kind, cells


def time_mapping(kind: str, **change: Any) -> SourceMapping:
    columns = {"open": "o", "high": "h", "low": "l", "close": "c", "volume": "v"}
    unit: dict[str, Any] = {"column": "ts"}
    if kind == "naive":
        unit["zone"] = "America/New_York"  # a naive time's day is its own date, zone or not
    elif kind != "timestamp":
        unit["unit"] = kind
    return bars_mapping(
        **{"name": kind, "table": f"t_{kind}", "columns": columns, "timestamp": unit, **change}
    )


def fill(dsn: str, table: str, stamps: list[object], values: list[tuple[object, ...]]) -> None:
    with psycopg.connect(dsn, autocommit=True) as db, db.cursor() as cursor:
        cursor.execute(f"TRUNCATE {table}")
        cursor.executemany(
            f"INSERT INTO {table} (ts, o, h, l, c, v) VALUES (%s, %s, %s, %s, %s, %s)",
            [(s, *v) for s, v in zip(stamps, values, strict=True)],
        )


@PROPERTY
@given(drawn=times(), chunk_rows=st.integers(1, 5))
@example(drawn=("ns", [946_684_799_999_999_957, -1, -86_400 * 10**9]), chunk_rows=1)  # found in CI
def test_the_days_of_the_rows_read_are_the_servers(
    dsn: str, drawn: tuple[str, list[object]], chunk_rows: int
) -> None:
    kind, stamps = drawn
    fill(dsn, f"t_{kind}", stamps, [(1, 2, 0.5, 1.5, 3)] * len(stamps))
    read: dict[int, int] = {}
    with PostgresTableSource(dsn).snapshot(time_mapping(kind, chunk_rows=chunk_rows)) as snap:
        for chunk in snap.bar_chunks():
            for day, rows in chunk.days.items():
                read[day] = read.get(day, 0) + rows
        held = [s for s in stamps if s is not None]
        last = max(held) if held else None  # type: ignore[type-var]
        server = {} if last is None else snap.day_counts(Watermark(timestamp=last))
    assert read == server
    assert sum(read.values()) == len(held)


def described(chunk: BarChunk) -> tuple[object, ...]:
    """Everything a chunk tells the migration, NaN comparable."""
    bars = {}
    for instrument, raw in chunk.bars.items():
        texts = [raw.text_of(f, k) for f in ("timestamp", *VALUE_FIELDS) for k in range(len(raw))]
        values = [raw.values.field(f).tobytes() for f in VALUE_FIELDS]
        bars[instrument] = (
            raw.source_row.tolist(),
            raw.ts_ns.tolist(),
            raw.ts_status.tolist(),
            values,
            texts,
            raw.malformed,
        )
    return chunk.rows, chunk.first_row, chunk.last, dict(chunk.days), chunk.rejections, bars


def read(
    dsn: str, mapping: SourceMapping, *, guarded: bool
) -> tuple[bool, list[tuple[object, ...]]]:
    with PostgresTableSource(dsn).snapshot(mapping) as snapshot:
        assert isinstance(snapshot, PostgresSnapshot)
        plain = snapshot._all_held()
        if guarded:
            snapshot._held_everywhere = False  # the test per row, whatever the times
        return plain, [described(c) for c in snapshot.bar_chunks()]


cells = st.one_of(
    st.decimals(-(10**6), 10**6, places=3, allow_nan=False).map(str),
    st.sampled_from(["NaN", "Infinity", "-1e400", "1e301", None]),
)


@PROPERTY
@given(
    kind=st.sampled_from(["timestamp", "naive"]),
    minutes=st.lists(st.integers(-(10**6), 10**6), min_size=1, max_size=15),
    beyond=st.lists(st.sampled_from(OUT_OF_RANGE), max_size=3),
    values=st.lists(st.tuples(*[cells] * 5), min_size=18, max_size=18),
    chunk_rows=st.integers(1, 6),
)
def test_a_plain_read_gives_the_chunks_of_a_guarded_one(
    dsn: str,
    kind: str,
    minutes: list[int],
    beyond: list[str],
    values: list[tuple[object, ...]],
    chunk_rows: int,
) -> None:
    start = datetime(2024, 1, 2, tzinfo=None if kind == "naive" else UTC)
    stamps: list[object] = [start + timedelta(minutes=m) for m in minutes]
    stamps += [b.replace("+00", "") if kind == "naive" else b for b in beyond]
    fill(dsn, f"t_{kind}", stamps, values[: len(stamps)])
    mapping = time_mapping(kind, chunk_rows=chunk_rows)
    plain, chunks = read(dsn, mapping, guarded=False)
    assert plain == (not beyond)
    assert chunks == read(dsn, mapping, guarded=True)[1]
    assert sum(int(str(c[0])) for c in chunks) == len(stamps)


FILTERS: list[dict[str, Any]] = [
    {"column": "id", "op": ">", "value": 2},
    {"column": "id", "op": ">=", "value": 1.5},  # a double (beside a numeric, 1e400 would fail)
    {"column": "o", "op": "<", "value": "1e6"},  # text: cast to the column's type
    {"column": "id", "op": "in", "value": list(range(1, 40))},
    {"column": "h", "op": "in", "value": ["1", "2", "3.5"]},
]


@PROPERTY
@given(
    minutes=st.lists(st.integers(0, 3 * 24 * 60), min_size=1, max_size=18),
    values=st.lists(st.tuples(*[cells] * 5), min_size=18, max_size=18),
    filters=st.lists(st.sampled_from(FILTERS), max_size=3),
    bounds=st.sampled_from(["none", "after", "through", "days"]),
    chunk_rows=st.integers(1, 6),
)
def test_a_streamed_read_gives_the_chunks_of_a_cursor(
    dsn: str,
    monkeypatch: pytest.MonkeyPatch,
    minutes: list[int],
    values: list[tuple[object, ...]],
    filters: list[dict[str, Any]],
    bounds: str,
    chunk_rows: int,
) -> None:
    start = datetime(2024, 1, 2, tzinfo=UTC)
    stamps: list[object] = [start + timedelta(minutes=m) for m in minutes]
    fill(dsn, "t_timestamp", stamps, values[: len(minutes)])
    mapping = time_mapping("timestamp", chunk_rows=chunk_rows, filters=filters)
    middle = Watermark(timestamp=start + timedelta(days=1))
    window = {
        "none": {},
        "after": {"after": middle},
        "through": {"through": middle},
        "days": {"days": DayWindow(source_day(start) + 1, source_day(start) + 2)},
    }[bounds]

    def chunks() -> list[tuple[object, ...]]:
        with PostgresTableSource(dsn).snapshot(mapping) as snapshot:
            return [described(c) for c in snapshot.bar_chunks(**window)]

    streamed = chunks()
    with monkeypatch.context() as patch:
        patch.setattr(postgres_batches, "_from_settings", lambda query, parameters: None)
        assert streamed == chunks()


def test_a_read_left_early_leaves_the_snapshot_readable(dsn: str) -> None:
    start = datetime(2024, 1, 2, tzinfo=UTC)
    stamps: list[object] = [start + timedelta(minutes=m) for m in range(2_000)]
    fill(dsn, "t_timestamp", stamps, [(1, 2, 0.5, 1.5, 3)] * len(stamps))
    with PostgresTableSource(dsn).snapshot(time_mapping("timestamp", chunk_rows=10)) as snapshot:
        for _chunk in snapshot.bar_chunks():
            break
        assert snapshot.count() == 2_000
        assert sum(c.rows for c in snapshot.bar_chunks()) == 2_000
