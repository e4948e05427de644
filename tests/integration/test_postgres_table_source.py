"""The PostgreSQL table source on the real server: chunks of ``chunk_rows`` in (timestamp,
key) order, resumed strictly after a watermark, filters as parameters, missing columns
named, the password never shown, no table written (the source's rows are unchanged), and
the example mapping reads the example schema."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, LiteralString, cast

import psycopg
import pytest
import yaml

from quantdesk.adapters.sources.postgres_tables import PostgresTableSource, redacted
from quantdesk.domain.errors import SourceReadError
from quantdesk.domain.source_mapping import SourceMapping
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


def test_rows_come_in_chunks_in_order_and_resume_after_a_watermark(dsn: str) -> None:
    source = PostgresTableSource(dsn)
    chunks = list(source.chunks(mapping()))
    assert [len(c) for c in chunks] == [10, 10, 10, 10, 10]
    assert [c.first_row for c in chunks] == [1, 11, 21, 31, 41]
    ids = [i for c in chunks for i in c.columns["id"]]
    assert ids == list(range(1, 51))  # (ts, id) order: two rows a minute, by id
    assert list(chunks[0].columns) == mapping().selected()
    assert [float(x) for x in chunks[0].columns["c"][:3]] == [100.0, 101.0, 102.0]
    resumed = list(source.chunks(mapping(), after=chunks[1].last))
    assert [i for c in resumed for i in c.columns["id"]] == list(range(21, 51))
    assert resumed[0].first_row == 1  # numbered within this read


def test_filters_travel_as_parameters(dsn: str) -> None:
    source = PostgresTableSource(dsn)
    only_a = mapping(filters=[{"column": "symbol", "op": "=", "value": "A"}])
    assert {s for c in source.chunks(only_a) for s in c.columns["symbol"]} == {"A"}
    hostile = mapping(filters=[{"column": "symbol", "op": "in", "value": ["A' OR '1'='1"]}])
    assert list(source.chunks(hostile)) == []
    late = mapping(filters=[{"column": "id", "op": ">", "value": 45}], key=None, chunk_rows=100)
    # without a key, rows of one timestamp come in no stated order: compare as a multiset
    assert sorted(s for c in source.chunks(late) for s in c.columns["symbol"]) == sorted("BABAB")


def test_missing_columns_and_tables_are_named(dsn: str) -> None:
    source = PostgresTableSource(dsn)
    assert source.missing_columns(mapping()) == []
    # only close is mapped: the other fields keep their own names, which this table lacks
    assert source.missing_columns(mapping(columns={"close": "close_px"})) == [
        "close_px",
        "high",
        "low",
        "open",
        "volume",
    ]
    gone = mapping(table="market.nothing")
    assert set(source.missing_columns(gone)) == set(gone.selected())
    with pytest.raises(SourceReadError) as refused:
        list(source.chunks(gone))
    assert "market.nothing" in str(refused.value)


def test_the_source_is_only_read(dsn: str) -> None:
    source = PostgresTableSource(dsn)
    before = _rows(dsn)
    for _ in source.chunks(mapping()):
        pass
    assert _rows(dsn) == before


def test_the_password_is_never_shown() -> None:
    dsn = "postgresql://ana:s3cret@127.0.0.1:1/nowhere"
    assert "s3cret" not in redacted(dsn) and "ana" in redacted(dsn)
    with pytest.raises(SourceReadError) as refused:
        PostgresTableSource(dsn).missing_columns(mapping())
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
    assert source.missing_columns(example) == []
    (chunk,) = source.chunks(example)
    assert chunk.columns["symbol"] == ["BTCUSDT"]  # the filter kept the mapped instruments
