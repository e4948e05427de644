"""``quantdesk data migrate`` as a user types it, on the example schema and mapping
(``examples/postgres``) in a real PostgreSQL database: the rows land, a rerun takes nothing
new, a named source hides its URL, ``--follow`` picks up rows inserted between runs, the
rejects export as CSV, and refusals name the line or the source."""

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from quantdesk.bootstrap import bootstrap
from quantdesk.cli import migrations as migrate_cli
from support.console import Cli
from support.postgres_examples import POSTGRES, example_cli, example_tables

pytestmark = pytest.mark.services

START = datetime(2024, 3, 1, tzinfo=UTC)
INSERT = (
    "INSERT INTO market.bars_1m (ts, symbol, o, h, l, c, v) VALUES (%s, %s, %s, %s, %s, %s, %s)"
)


@pytest.fixture
def source() -> Iterator[str]:
    with example_tables("bars.sql") as url:
        yield url


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    return example_cli(tmp_path, monkeypatch)


def insert(dsn: str, rows: list[tuple[Any, ...]]) -> None:
    with psycopg.connect(dsn, autocommit=True) as db, db.cursor() as cursor:
        cursor.executemany(INSERT, rows)


def held(cli: Cli) -> dict[str, int]:
    """Bars the catalog holds per instrument."""
    return {e.instrument_id: e.count for e in bootstrap(home=cli.home).catalog.entries()}


def bar(minute: int, symbol: str = "BTCUSDT", close: str = "42000.5") -> tuple[Any, ...]:
    return (START + timedelta(minutes=minute), symbol, "42000", "42010", "41990", close, "1.5")


def test_the_example_migrates_and_a_rerun_takes_nothing_new(cli: Cli, source: str) -> None:
    insert(source, [bar(m, s) for m in range(30) for s in ("BTCUSDT", "ETHUSDT")])
    insert(source, [bar(30, "BTCUSDT", close="-1")])  # a negative close: rejected
    args = ("data", "migrate", "--mapping", POSTGRES / "bars.yaml", "--source", source)
    output = cli.ok(*args)
    assert "workspace-bars-1m" in output and "completed" in output
    assert "61" in output and "60" in output  # read, written
    assert "rejected rows: quantdesk data migration-rejects mig-" in output
    assert "password" not in output
    assert held(cli) == {"BTCUSDT.BINANCE": 30, "ETHUSDT.BINANCE": 30}
    again = json.loads(cli.stdout(*args, "--json"))
    assert (again["rows_read"], again["rows_written"]) == (0, 0)
    runs = [json.loads(line) for line in cli.stdout("data", "migrations", "--json").splitlines()]
    assert [r["rows_written"] for r in runs] == [0, 60]  # newest first
    verified = cli.ok("data", "verify", "--mapping", POSTGRES / "bars.yaml", "--source", source)
    assert (
        "verify passed: workspace-bars-1m is complete through 2024-03-01 00:30:00+00:00" in verified
    )
    assert "2 instrument-day(s); source 61 rows read (1 rejected" in verified
    first = runs[1]["migration_id"]
    rejects = list(csv.DictReader(io.StringIO(cli.ok("data", "migration-rejects", first))))
    assert len(rejects) == 1
    assert rejects[0]["field"] == "close" and rejects[0]["value"] == "-1"


def test_a_named_source_keeps_its_url_out_of_sight(
    cli: Cli, source: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = source.replace("postgres@", "postgres:s3cret-pw@")
    monkeypatch.setenv("QUANTDESK_MIGRATION_SOURCES", json.dumps({"f2": secret}))
    insert(source, [bar(0)])
    output = cli.ok("data", "migrate", "--mapping", POSTGRES / "bars.yaml", "--source", "f2")
    assert "completed" in output and "s3cret" not in output
    listed = cli.ok("data", "migrations", "--json")
    assert "s3cret" not in listed and json.loads(listed)["rows_written"] == 1
    refused = cli.refused("data", "migrate", "--mapping", POSTGRES / "bars.yaml", "--source", "f3")
    assert "no source named 'f3' (known: f2)" in refused
    assert "hint: name one of QUANTDESK_MIGRATION_SOURCES" in refused


def test_follow_migrates_rows_inserted_between_runs(
    cli: Cli, source: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    insert(source, [bar(m) for m in range(5)])
    ticks: list[float] = []

    def sleep(seconds: float) -> None:  # the interval passes; rows arrive, then Ctrl-C
        ticks.append(seconds)
        if len(ticks) == 1:
            insert(source, [bar(m) for m in range(5, 8)])
            return
        raise KeyboardInterrupt

    monkeypatch.setattr(migrate_cli.time, "sleep", sleep)
    output = cli.ok(
        "data", "migrate", "--mapping", POSTGRES / "bars.yaml", "--source", source,
        "--follow", "--interval", "5", "--json",
    )  # fmt: skip
    runs = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert [r["rows_written"] for r in runs] == [5, 3]
    assert ticks == [5.0, 5.0] and "stopped following" in output
    assert held(cli) == {"BTCUSDT.BINANCE": 8}


def test_verify_exits_4_and_names_the_days_that_differ(cli: Cli, source: str) -> None:
    insert(source, [bar(m) for m in range(3)])
    args = ("--mapping", POSTGRES / "bars.yaml", "--source", source)
    cli.ok("data", "migrate", *args)
    with psycopg.connect(source, autocommit=True) as db:
        db.execute("UPDATE market.bars_1m SET c = 42001 WHERE id = 2")
    result = cli("data", "verify", *args)
    assert result.exit_code == 4, result.output
    assert "verify FAILED: 1 of 1 instrument-day(s) differ" in result.output
    assert "BTCUSDT.BINANCE" in result.output and "2024-03-01" in result.output
    report = json.loads(cli("data", "verify", *args, "--json").stdout)
    assert report["passed"] is False and report["differences"] == 1


def test_refusals_name_the_line_the_table_or_the_run(cli: Cli, source: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        (POSTGRES / "bars.yaml").read_text().replace("1-MINUTE-LAST", "1-FORTNIGHT-LAST")
    )
    refused = cli.refused("data", "migrate", "--mapping", bad, "--source", source)
    assert "bad.yaml line 6: bar_spec" in refused and "FORTNIGHT" in refused
    missing = tmp_path / "missing.yaml"
    missing.write_text((POSTGRES / "bars.yaml").read_text().replace("bars_1m", "bars_5m"))
    refused = cli.refused("data", "migrate", "--mapping", missing, "--source", source)
    assert "there is no table market.bars_5m" in refused
    refused = cli.refused("data", "migration-rejects", "mig-nothing")
    assert (
        "no migration 'mig-nothing'" in refused and "hint: see quantdesk data migrations" in refused
    )
