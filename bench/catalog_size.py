"""Catalog size against the PostgreSQL table it was migrated from, on real market data.

The bars of ``../shared/data`` (a month of BTC perpetual and a year of GBP/USD one-minute
bars) are loaded into the example schema of the old workspace (``examples/postgres/bars.sql``:
``numeric`` prices, a ``bigserial`` key, an index on ``(ts, id)``), migrated with
``quantdesk data migrate`` into a fresh catalog, and measured:

* **PostgreSQL**: ``pg_relation_size`` (the table's heap) and ``pg_total_relation_size``
  (with its indexes and TOAST) -- what the workspace holds on disk for these rows;
* **catalog**: the bytes of the Parquet files of the migrated bar types, as written
  (zstd, delta-encoded timestamps, 50,000-row groups), and the same tables rewritten with
  the engine's own defaults (snappy, dictionaries, 5,000-row groups) for comparison;
* **CSV**: the source file.

The database (``quantdesk_bench_size``) is created and dropped. The last line is JSON.
Run it with ``make bench`` or ``.venv/bin/python bench/catalog_size.py``.
"""

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import psycopg
import pyarrow.parquet as pq
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from migration import server_absent  # bench/migration.py, beside this file
from quantdesk.bootstrap import bootstrap
from quantdesk.domain.instruments import InstrumentSpec
from quantdesk.domain.source_mapping import SourceMapping

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
DATABASE = "quantdesk_bench_size"
SERIES = {
    # file: (symbol, instrument)
    "btc-perp-20211231-20220201_1m.csv": (
        "BTCUSDT",
        {
            "instrument_id": "BTCUSDT-PERP.BINANCE",
            "asset_class": "crypto_perpetual",
            "currency": "USDT",
            "base_currency": "BTC",
            "tick_size": 0.001,  # a few of its prices carry 3 decimals, its volumes 7
            "size_increment": 0.0000001,
        },
    ),
    "gbpusd-m1-bid-2012.csv": (
        "GBPUSD",
        {
            "instrument_id": "GBP/USD.SIM",
            "asset_class": "fx",
            "currency": "USD",
            "base_currency": "GBP",
            "tick_size": 1e-5,
        },
    ),
}


def load(url: str) -> dict[str, int]:
    """The example schema, filled with the CSV files' rows; rows per symbol."""
    schema = (ROOT / "examples" / "postgres" / "bars.sql").read_text()
    counts: dict[str, int] = {}
    with psycopg.connect(url, autocommit=True) as db:
        db.execute(schema)
        for name, (symbol, _) in SERIES.items():
            with db.cursor() as cursor:
                cursor.execute(
                    "CREATE TEMP TABLE raw (ts text, o numeric, h numeric, l numeric, "
                    "c numeric, v numeric)"
                )
                with (DATA / name).open() as handle:
                    header = handle.readline().strip().split(",")
                columns = "ts, o, h, l, c" + (", v" if "volume" in header else "")
                with (
                    (DATA / name).open() as handle,
                    cursor.copy(
                        f"COPY raw ({columns}) FROM STDIN (FORMAT csv, HEADER true)"
                    ) as copy,
                ):
                    while block := handle.read(1 << 20):
                        copy.write(block)
                cursor.execute(
                    "INSERT INTO market.bars_1m (ts, symbol, o, h, l, c, v) "
                    "SELECT (CASE WHEN ts ~ '[+-][0-9:]+$' THEN ts ELSE ts || '+00' END)"
                    "::timestamptz, %s, o, h, l, c, coalesce(v, 0) FROM raw ORDER BY ts",
                    (symbol,),
                )
                counts[symbol] = cursor.rowcount
                cursor.execute("DROP TABLE raw")
        db.execute("VACUUM ANALYZE market.bars_1m")
    return counts


def table_bytes(url: str) -> tuple[int, int]:
    with psycopg.connect(url) as db:
        row = db.execute(
            "SELECT pg_relation_size('market.bars_1m'), pg_total_relation_size('market.bars_1m')"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def migrate(url: str, home: Path) -> tuple[Path, dict[str, int]]:
    desk = bootstrap(home=home)
    for _, spec in SERIES.values():
        desk.instruments.add(InstrumentSpec.model_validate(spec))
    mapping = SourceMapping.model_validate(
        {
            "name": "size-bench",
            "kind": "bars",
            "table": "market.bars_1m",
            "bar_spec": "1-MINUTE-LAST",
            "columns": {"open": "o", "high": "h", "low": "l", "close": "c", "volume": "v"},
            "timestamp": {"column": "ts"},
            "instrument": {
                "column": "symbol",
                "ids": {symbol: spec["instrument_id"] for symbol, spec in SERIES.values()},
            },
            "key": "id",
        }
    )
    run = desk.migrations.migrate(mapping, url, actor="bench")
    if run.state != "completed":
        raise SystemExit(f"the migration did not complete: {run}")
    rejected: dict[str, int] = {}
    for rejection in desk.migrations.rejections(run.migration_id):
        rejected[rejection.reason.value] = rejected.get(rejection.reason.value, 0) + 1
    return home / "catalog", rejected


def parquet_bytes(catalog: Path, rewrite_to: Path | None = None) -> int:
    """Bytes of the bar files; with ``rewrite_to``, of the same tables as the engine writes."""
    total = 0
    for path in sorted((catalog / "data" / "bar").rglob("*.parquet")):
        if rewrite_to is None:
            total += path.stat().st_size
            continue
        target = rewrite_to / path.relative_to(catalog)
        target.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pq.read_table(path), target, row_group_size=5_000)  # engine defaults
        total += target.stat().st_size
    return total


def main() -> int:
    admin_dsn = os.environ.get(
        "QUANTDESK_BENCH_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    absent = server_absent(admin_dsn)
    if absent is not None or not DATA.is_dir():
        why = absent or f"{DATA} is absent"
        if os.environ.get("QUANTDESK_REQUIRE_SERVICES") == "1":
            raise SystemExit(f"bench/catalog_size.py needs {why}")
        print(f"bench/catalog_size.py skipped: {why}")
        return 0
    parts = conninfo_to_dict(admin_dsn)
    url = make_conninfo(**{**{k: str(v) for k, v in parts.items()}, "dbname": DATABASE})
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{DATABASE}"')
    try:
        counts = load(url)
        heap, total = table_bytes(url)
        with tempfile.TemporaryDirectory(prefix="qd-bench-size-") as folder:
            catalog, rejected = migrate(url, Path(folder) / "home")
            ours = parquet_bytes(catalog)
            engine_default = parquet_bytes(catalog, Path(folder) / "engine-defaults")
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    rows = sum(counts.values())
    csv = sum((DATA / name).stat().st_size for name in SERIES)
    result: dict[str, Any] = {
        "rows": rows,
        "rows_by_symbol": counts,
        "rows_rejected": rejected,
        "csv_bytes": csv,
        "pg_heap_bytes": heap,
        "pg_total_bytes": total,
        "catalog_bytes": ours,
        "catalog_engine_defaults_bytes": engine_default,
        "catalog_vs_pg_total": round(ours / total, 4),
        "catalog_vs_pg_heap": round(ours / heap, 4),
        "engine_defaults_vs_ours": round(engine_default / ours, 3),
    }
    print(f"{rows:,} one-minute bars (real data, {len(SERIES)} series); rejected: {rejected}")
    for label, size in [
        ("CSV files", csv),
        ("PostgreSQL heap", heap),
        ("PostgreSQL with indexes", total),
        ("catalog (engine defaults)", engine_default),
        ("catalog (quantdesk: zstd)", ours),
    ]:
        print(f"  {label:<28} {size / 1e6:8.2f} MB  {size / rows:6.1f} B/row")
    print(f"catalog / PostgreSQL total: {ours / total:.3f}")
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
