"""The PostgreSQL table source on the real server: chunks of ``chunk_rows`` in (timestamp,
key) order, resumed strictly after a watermark, filters as parameters, missing columns
named, the password never shown, no table written (the source's rows are unchanged), and
the example mapping reads the example schema."""

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, LiteralString, cast

import psycopg
import pytest
import yaml

from quantdesk.adapters.sources.postgres_tables import PostgresTableSource, redacted
from quantdesk.domain.errors import SourceReadError
from quantdesk.domain.migration import Watermark
from quantdesk.domain.source_mapping import SourceMapping
from quantdesk.services.columns import TimestampStatus
from quantdesk.services.ports.table_sources import BarChunk
from support.registry import postgres_database

pytestmark = pytest.mark.services

START = datetime(2024, 1, 2, tzinfo=UTC)


@pytest.fixture
def dsn() -> Iterator[str]:
    with postgres_database() as url:
        plain = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(plain, autocommit=True) as db:
            db.execute("CREATE SCHEMA market")
            db.execute(
                "CREATE TABLE market.bars (id serial PRIMARY KEY, ts timestamptz NOT NULL, "
                "symbol text, o numeric, h numeric, l numeric, c numeric, v numeric)"
            )
            db.execute("CREATE TABLE graph_edges (src text, dst text)")  # the old workspace's
            db.execute("INSERT INTO graph_edges VALUES ('a', 'b')")
            with db.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO market.bars (ts, symbol, o, h, l, c, v) "
                    "VALUES (%s, %s, 1, 2, 0.5, %s, 10)",
                    [(START + timedelta(minutes=i // 2), "AB"[i % 2], 100 + i) for i in range(50)],
                )
        yield plain


def mapping(**change: Any) -> SourceMapping:
    return SourceMapping.model_validate(
        {
            "name": "bars",
            "kind": "bars",
            "table": "market.bars",
            "bar_spec": "1-MINUTE-LAST",
            "columns": {"open": "o", "high": "h", "low": "l", "close": "c", "volume": "v"},
            "timestamp": {"column": "ts"},
            "instrument": {"column": "symbol"},
            "key": "id",
            "chunk_rows": 10,
            **change,
        }
    )


def chunks(source: PostgresTableSource, m: SourceMapping, **bounds: Any) -> list[BarChunk]:
    with source.snapshot(m) as snapshot:
        return list(snapshot.bar_chunks(**bounds))


def closes(found: list[BarChunk]) -> list[float]:
    return sorted(float(x) for c in found for raw in c.bars.values() for x in raw.values.close)


def test_rows_come_in_chunks_of_whole_instants_and_resume_after_a_watermark(dsn: str) -> None:
    source = PostgresTableSource(dsn)
    found = chunks(source, mapping(chunk_rows=9))
    # two rows a minute: a chunk of 9 is extended to the end of its instant (10 rows)
    assert [c.rows for c in found] == [10, 10, 10, 10, 10]
    assert [c.first_row for c in found] == [1, 11, 21, 31, 41]
    assert closes(found) == [100.0 + i for i in range(50)]
    assert sorted(found[0].bars) == ["A", "B"]
    assert found[1].last is not None
    resumed = chunks(source, mapping(), after=found[1].last)
    assert closes(resumed) == [120.0 + i for i in range(30)]
    assert resumed[0].first_row == 1  # numbered within this read
    with source.snapshot(mapping()) as snapshot:
        assert snapshot.count() == 50
        assert snapshot.count(after=found[1].last) == 30
        assert snapshot.day_counts(found[4].last) == {(START.date() - date(1970, 1, 1)).days: 50}


def test_filters_travel_as_parameters(dsn: str) -> None:
    source = PostgresTableSource(dsn)
    only_a = mapping(filters=[{"column": "symbol", "op": "=", "value": "A"}])
    assert {i for c in chunks(source, only_a) for i in c.bars} == {"A"}
    hostile = mapping(filters=[{"column": "symbol", "op": "in", "value": ["A' OR '1'='1"]}])
    assert chunks(source, hostile) == []
    late = mapping(filters=[{"column": "id", "op": ">", "value": 45}], key=None, chunk_rows=100)
    assert sum(c.rows for c in chunks(source, late)) == 5


def test_missing_columns_and_tables_are_named(dsn: str) -> None:
    source = PostgresTableSource(dsn)
    assert source.problems(mapping()) == []
    # only close is mapped: the other fields keep their own names, which this table lacks
    assert source.problems(mapping(columns={"close": "close_px"})) == [
        f"market.bars has no column {c}" for c in ("close_px", "high", "low", "open", "volume")
    ]
    gone = mapping(table="market.nothing")
    assert source.problems(gone) == [
        "there is no table market.nothing (or this user may not see it)"
    ]
    assert source.problems(mapping(key="symbol")) == [
        "the key column symbol allows NULL: declare it NOT NULL"
    ]
    with pytest.raises(SourceReadError) as refused:
        chunks(source, gone)
    assert "market.nothing" in str(refused.value)


def test_a_value_column_holding_many_values_is_refused_before_reading(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as db:
        db.execute(
            "CREATE TABLE market.trades_odd (id bigint PRIMARY KEY, ts timestamptz, "
            "price numeric, size numeric, aggressor_side text[], trade_id jsonb)"
        )
    trades = SourceMapping.model_validate(
        {
            "name": "odd",
            "kind": "trade_ticks",
            "table": "market.trades_odd",
            "timestamp": {"column": "ts"},
            "instrument": {"instrument_id": "A.XNAS"},
            "key": "id",
        }
    )
    assert PostgresTableSource(dsn).problems(trades) == [
        "the aggressor_side column aggressor_side is ARRAY: it must hold one number or name a "
        "row (cast it in a view)",
        "the trade_id column trade_id is jsonb: it must hold one number or name a row (cast it "
        "in a view)",
    ]


def test_times_no_datetime_holds_are_rejected_rows_not_a_failed_read(dsn: str) -> None:
    """infinity, a BC date and year 10000 are valid PostgreSQL times psycopg cannot load."""
    with psycopg.connect(dsn, autocommit=True) as db:
        db.execute(
            "INSERT INTO market.bars (ts, symbol, o, h, l, c, v) VALUES "
            "('infinity', 'A', 1, 2, 0.5, 1, 1), ('-infinity', 'A', 1, 2, 0.5, 1, 1), "
            "('0044-03-15 BC', 'A', 1, 2, 0.5, 1, 1), ('10000-01-01', 'B', 1, 2, 0.5, 1, 1)"
        )
    source = PostgresTableSource(dsn)
    found = chunks(source, mapping(chunk_rows=100))
    assert sum(c.rows for c in found) == 54
    raw = {i: r for c in found for i, r in c.bars.items()}
    beyond = [
        raw[i].text_of("timestamp", k)
        for i in ("A", "B")
        for k in range(len(raw[i]))
        if raw[i].ts_status[k] == TimestampStatus.OUT_OF_RANGE
    ]
    assert sorted(beyond) == sorted(
        ["infinity", "-infinity", "0044-03-15 00:00:00+00 BC", "10000-01-01 00:00:00+00"]
    )
    assert found[-1].last == Watermark(timestamp=START + timedelta(minutes=24))
    with source.snapshot(mapping()) as snapshot:  # the days of times out of range: none
        assert snapshot.day_counts(found[-1].last) == {(START.date() - date(1970, 1, 1)).days: 50}
    text_times = mapping(timestamp={"column": "symbol"})
    assert source.problems(text_times) == [
        "the timestamp column symbol is text; unit timestamp reads a SQL timestamp"
    ]
    epoch = mapping(timestamp={"column": "ts", "unit": "ms"})
    assert source.problems(epoch) == [
        "the timestamp column ts is timestamp with time zone; unit ms reads an integer column"
    ]


def test_the_source_is_only_read(dsn: str) -> None:
    source = PostgresTableSource(dsn)
    before = _rows(dsn)
    chunks(source, mapping())
    assert _rows(dsn) == before


def test_the_password_is_never_shown() -> None:
    dsn = "postgresql://ana:s3cret@127.0.0.1:1/nowhere"
    assert "s3cret" not in redacted(dsn) and "ana" in redacted(dsn)
    with pytest.raises(SourceReadError) as refused:
        PostgresTableSource(dsn).problems(mapping())
    assert "s3cret" not in str(refused.value) and "cannot connect" in str(refused.value)


def _rows(dsn: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as db:
        bars = db.execute("SELECT * FROM market.bars ORDER BY id").fetchall()
        edges = db.execute("SELECT * FROM graph_edges").fetchall()
    return [*bars, *edges]


def test_the_example_mapping_reads_the_example_schema(dsn: str) -> None:
    examples = Path(__file__).resolve().parents[2] / "examples" / "postgres"
    with psycopg.connect(dsn, autocommit=True) as db:
        db.execute(cast(LiteralString, (examples / "bars.sql").read_text()))
        db.execute(
            "INSERT INTO market.bars_1m (ts, symbol, o, h, l, c, v) VALUES "
            "(%s, 'BTCUSDT', 1, 2, 0.5, 1.5, 3), (%s, 'XRPUSDT', 1, 1, 1, 1, 1)",
            (START, START),
        )
    example = SourceMapping.model_validate(yaml.safe_load((examples / "bars.yaml").read_text()))
    source = PostgresTableSource(dsn)
    assert source.problems(example) == []
    (chunk,) = chunks(source, example)
    assert list(chunk.bars) == ["BTCUSDT.BINANCE"]  # the filter kept the mapped instruments
    assert chunk.rows == 1
