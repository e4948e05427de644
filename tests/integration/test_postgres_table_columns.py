"""The PostgreSQL table source's columns on the real server, as the Arrow reader gets them:
the counts and the rows of one snapshot agree while the table changes, a naive SQL time
is read in the mapping's zone (a repeated wall time at its first occurrence, a skipped one
as ``zoneinfo`` reads it), epoch integers keep their unit, and a numeric no double holds is
a value to reject, not a failed read; a filter's text value compares with any column."""

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
import pytest

from quantdesk.adapters.sources.postgres_tables import PostgresTableSource
from quantdesk.domain.migration import Watermark
from quantdesk.domain.source_mapping import SourceMapping
from quantdesk.services.columns import TimestampStatus
from quantdesk.services.ports.table_sources import BarChunk
from support.registry import postgres_database
from support.table_sources import bars_mapping

pytestmark = pytest.mark.services

BERLIN = ZoneInfo("Europe/Berlin")
# 02:30 on 2024-10-27 happens twice in Berlin; 02:30 on 2024-03-31 never does
WALL_TIMES = [
    datetime(2024, 3, 31, 1, 30),
    datetime(2024, 3, 31, 2, 30),
    datetime(2024, 10, 27, 2, 30),
    datetime(2024, 10, 27, 3, 30),
]


@pytest.fixture
def dsn() -> Iterator[str]:
    with postgres_database() as url:
        plain = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(plain, autocommit=True) as db:
            db.execute(
                "CREATE TABLE wall (id serial PRIMARY KEY, ts timestamp, o numeric, h numeric, "
                "l numeric, c numeric, v numeric)"
            )
            db.execute(
                "CREATE TABLE epoch (id serial PRIMARY KEY, ts bigint, o float8, h float8, "
                "l float8, c float8, v integer)"
            )
            with db.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO wall (ts, o, h, l, c, v) VALUES (%s, 1, 2, 0.5, 1.5, 3)",
                    [(t,) for t in WALL_TIMES],
                )
        yield plain


def mapping(table: str, **change: Any) -> SourceMapping:
    columns = {"open": "o", "high": "h", "low": "l", "close": "c", "volume": "v"}
    return bars_mapping(
        **{"name": table, "table": table, "columns": columns, "chunk_rows": 2, **change}
    )


def chunks(dsn: str, m: SourceMapping, after: Watermark | None = None) -> list[BarChunk]:
    with PostgresTableSource(dsn).snapshot(m) as snapshot:
        return list(snapshot.bar_chunks(after=after))


def ns(stamp: datetime) -> int:
    return int(stamp.timestamp()) * 1_000_000_000


def test_the_rows_and_the_counts_are_of_one_snapshot(dsn: str) -> None:
    """Rows committed while a run reads are neither counted nor read by it."""
    m = mapping("wall", timestamp={"column": "ts", "zone": "UTC"})
    with PostgresTableSource(dsn).snapshot(m) as snapshot:
        with psycopg.connect(dsn, autocommit=True) as db:
            db.execute("INSERT INTO wall (ts, o, h, l, c, v) VALUES ('2025-01-01', 1, 1, 1, 1, 1)")
            db.execute("DELETE FROM wall WHERE ts = %s", (WALL_TIMES[0],))
        read = list(snapshot.bar_chunks())
        assert snapshot.count() == 4
        last = Watermark(timestamp=WALL_TIMES[-1])
        assert sum(snapshot.day_counts(last).values()) == 4
    assert [c.rows for c in read] == [2, 2]
    assert read[-1].last == last  # a naive time stays naive, as the table wrote it
    assert sum(c.rows for c in chunks(dsn, m)) == 4  # a new snapshot sees both changes


def test_naive_times_are_read_in_the_mapping_zone(dsn: str) -> None:
    berlin = mapping("wall", timestamp={"column": "ts", "zone": "Europe/Berlin"})
    found = chunks(dsn, berlin)
    raw = [c.bars["A.XNAS"] for c in found]
    expected = [ns(t.replace(tzinfo=BERLIN).astimezone(UTC)) for t in WALL_TIMES]
    assert [int(x) for r in raw for x in r.ts_ns] == expected
    assert {int(s) for r in raw for s in r.ts_status} == {TimestampStatus.OK}
    days = sum((Counter(c.days) for c in found), Counter[int]())
    assert days == {(t.date() - date(1970, 1, 1)).days: 2 for t in WALL_TIMES[::2]}
    resumed = chunks(dsn, berlin, after=found[0].last)  # a naive watermark
    assert [int(x) for c in resumed for x in c.bars["A.XNAS"].ts_ns] == expected[2:]
    unzoned = chunks(dsn, mapping("wall"))  # refused, as CSV ingest refuses it
    statuses = {int(s) for c in unzoned for s in c.bars["A.XNAS"].ts_status}
    assert statuses == {TimestampStatus.NO_TIMEZONE}


def test_epoch_integers_keep_their_unit(dsn: str) -> None:
    start = datetime(2024, 1, 2, 23, 59, tzinfo=UTC)
    stamps = [ns(start) // 1_000_000 + k * 60_000 for k in range(3)]
    with psycopg.connect(dsn, autocommit=True) as db, db.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO epoch (ts, o, h, l, c, v) VALUES (%s, 1, 2, 0.5, 1.5, 3)",
            [(s,) for s in stamps] + [(None,)],
        )
    found = chunks(dsn, mapping("epoch", timestamp={"column": "ts", "unit": "ms"}))
    raw = [c.bars["A.XNAS"] for c in found]
    assert [int(x) for r in raw for x in r.ts_ns][:3] == [s * 1_000_000 for s in stamps]
    assert [int(s) for r in raw for s in r.ts_status][3] == TimestampStatus.UNPARSEABLE
    assert [c.last for c in found] == [
        Watermark(timestamp=stamps[1]),
        Watermark(timestamp=stamps[2]),
    ]
    epoch = mapping("epoch", timestamp={"column": "ts", "unit": "ms"})
    resumed = chunks(dsn, epoch, after=found[0].last)
    assert next(r for c in resumed for r in c.bars["A.XNAS"].ts_ns.tolist()) == stamps[2] * 10**6
    day = (start.date() - date(1970, 1, 1)).days
    assert sum((Counter(c.days) for c in found), Counter[int]()) == {day: 1, day + 1: 2}
    assert raw[0].values.volume.tolist() == [3.0, 3.0]


def test_a_numeric_no_double_holds_is_a_value_to_reject(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as db:
        db.execute("UPDATE wall SET h = 1e400, l = -1e400, c = NULL, v = 'NaN' WHERE id = 1")
    (first, _) = chunks(dsn, mapping("wall", timestamp={"column": "ts", "zone": "UTC"}))
    values = first.bars["A.XNAS"].values
    assert values.high[0] == np.inf and values.low[0] == -np.inf
    assert np.isnan(values.close[0]) and np.isnan(values.volume[0])
    assert first.bars["A.XNAS"].text_of("close", 0) == "NULL"
    assert first.bars["A.XNAS"].text_of("high", 0) == "inf"


def test_a_text_filter_value_takes_the_column_type(dsn: str) -> None:
    """As an untyped SQL literal would: the value ``"2"`` for an integer column, a date."""
    filters = [
        {"column": "id", "op": ">", "value": "1"},
        {"column": "id", "op": "in", "value": ["2", "3", "4"]},
        {"column": "ts", "op": "<", "value": "2024-10-27 03:00"},
    ]
    m = mapping("wall", timestamp={"column": "ts", "zone": "UTC"}, filters=filters)
    assert [c.rows for c in chunks(dsn, m)] == [2]
    with PostgresTableSource(dsn).snapshot(m) as snapshot:
        assert snapshot.count() == 2
