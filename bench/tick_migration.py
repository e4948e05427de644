"""Tick migration benchmark: ``data migrate`` of a trade-tick table against ``COPY ... TO``.

What it measures, on the same machine, server and table (``bench_trades``: ``--ticks`` trades,
three to a second, numeric prices and sizes, text sides and trade ids, filled by
``generate_series`` in a database of its own, not timed):

* **COPY** -- ``COPY (SELECT <the mapped columns> ORDER BY ts, id) TO STDOUT`` read to the end
  by psycopg (bytes counted, nothing parsed): the physical limit of reading the table.
* **quantdesk** -- the migration of the whole table into a fresh catalog, in this process:
  snapshot, chunked reads, the tick rules, the append with ``F_LAST``, lineage, the read-back
  digest and the checkpoint of every chunk; then ``data verify`` of the migrated range.
  Peak RSS is this process's (about 300 MB of it the imported engine and libraries), after
  both; it must not grow with the table (run it with 1M and 3M ticks to see).

No goal is set for ticks by issue 16 (its goal, >= 0.3x COPY, is for bars: ``migration.py``);
the ratio is printed beside it to compare. The last line printed is a JSON object. Without a
reachable server it says why and exits 0, unless QUANTDESK_REQUIRE_SERVICES=1.
"""

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg

import quantdesk
from migration import database_url, server_absent
from quantdesk.bootstrap import bootstrap
from quantdesk.domain.instruments import AssetClass, InstrumentSpec
from quantdesk.domain.source_mapping import SourceMapping

DATABASE = "quantdesk_bench"
RESULTS_DIR = Path(__file__).resolve().parent / "results"
COLUMNS = "ts, price, qty, side, trade_id, id"
MAPPING = {
    "name": "bench-trades",
    "kind": "trade_ticks",
    "table": "bench_trades",
    "columns": {"size": "qty", "aggressor_side": "side"},
    "timestamp": {"column": "ts"},
    "instrument": {"instrument_id": "BTCUSDT.BINANCE"},
    "key": "id",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ticks", type=int, default=1_000_000)
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--chunk-rows", type=int, default=100_000)
    parser.add_argument("--no-save", action="store_true", help=f"do not write to {RESULTS_DIR}")
    return parser.parse_args(argv)


def fill(url: str, ticks: int) -> None:
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("DROP TABLE IF EXISTS bench_trades")
        db.execute(
            "CREATE TABLE bench_trades (id bigint PRIMARY KEY, ts timestamptz NOT NULL, "
            "price numeric NOT NULL, qty numeric NOT NULL, side text NOT NULL, "
            "trade_id text NOT NULL)"
        )
        db.execute(
            "INSERT INTO bench_trades SELECT g, timestamptz '2024-01-01' + (g / 3) * "
            "interval '1 second', 42000 + mod(g, 97) * 0.01, 0.001 + mod(g, 50) * 0.001, "
            "CASE WHEN mod(g, 2) = 0 THEN 'buy' ELSE 'sell' END, 't' || g "
            "FROM generate_series(1, %s) g",
            (ticks,),
        )
        db.execute("CREATE INDEX ON bench_trades (ts, id)")
        db.execute("VACUUM ANALYZE bench_trades")


def copy_seconds(url: str) -> float:
    query = f"COPY (SELECT {COLUMNS} FROM bench_trades ORDER BY ts, id) TO STDOUT"
    with psycopg.connect(url) as db, db.cursor() as cursor:
        started = time.perf_counter()
        with cursor.copy(query) as copy:
            for _block in copy:
                pass
        return time.perf_counter() - started


def migrate(url: str, chunk_rows: int, home: Path) -> dict[str, float]:
    desk = bootstrap(home=home)
    desk.instruments.add(
        InstrumentSpec(
            instrument_id="BTCUSDT.BINANCE",
            asset_class=AssetClass.CRYPTO_SPOT,
            currency="USDT",
            base_currency="BTC",
            tick_size="0.01",
            size_increment="0.001",
        )
    )
    mapping = SourceMapping.model_validate({**MAPPING, "chunk_rows": chunk_rows})
    service = desk.migrations
    service.runs()  # a fresh home's one-time setup (imports, the registry's schema): not timed
    started = time.perf_counter()
    run = service.migrate(mapping, url, actor="bench")
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    report = service.verify(mapping, url)
    verify_seconds = time.perf_counter() - started
    if run.state != "completed" or not report.passed:
        raise SystemExit(f"the tick migration did not complete and verify: {run}")
    return {"seconds": seconds, "verify_seconds": verify_seconds, "written": run.rows_written}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    absent = server_absent(args.dsn)
    if absent is not None:
        if os.environ.get("QUANTDESK_REQUIRE_SERVICES") == "1":
            raise SystemExit(f"bench/tick_migration.py needs {absent}")
        print(f"bench/tick_migration.py skipped: it needs {absent} (start it, or pass --dsn)")
        return 0
    url = database_url(args.dsn)
    load_before = os.getloadavg()[0]
    with psycopg.connect(args.dsn, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{DATABASE}"')
    try:
        print(f"filling bench_trades with {args.ticks:,} trades (not timed) ...", flush=True)
        fill(url, args.ticks)
        copy_s = copy_seconds(url)
        with tempfile.TemporaryDirectory(prefix="qd-bench-ticks-") as folder:
            timed = migrate(url, args.chunk_rows, Path(folder) / "home")
    finally:
        with psycopg.connect(args.dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    if timed["written"] != args.ticks:
        raise SystemExit(f"wrote {timed['written']:,} of {args.ticks:,} ticks")
    rate, copy_rate = args.ticks / timed["seconds"], args.ticks / copy_s
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"\ntick migration rows/s {rate:,.0f} vs COPY TO rows/s {copy_rate:,.0f}: ratio "
        f"{rate / copy_rate:.3f}; verify {timed['verify_seconds']:.1f}s; peak RSS {rss_mb:,.0f} MB"
    )
    result = {
        "ticks": args.ticks,
        "chunk_rows": args.chunk_rows,
        "copy_s": round(copy_s, 3),
        "copy_rows_per_s": round(copy_rate),
        "migrate_s": round(timed["seconds"], 3),
        "migrate_rows_per_s": round(rate),
        "ratio": round(rate / copy_rate, 4),
        "verify_s": round(timed["verify_seconds"], 3),
        "peak_rss_mb": round(rss_mb, 1),
        "load_1m_before": round(load_before, 2),
        "load_1m_after": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "quantdesk_version": quantdesk.__version__,
        "python": platform.python_version(),
        "at": datetime.now(tz=UTC).isoformat(timespec="seconds"),
    }
    if not args.no_save:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(tz=UTC).strftime("%Y%m%dT%H%M%SZ")
        (RESULTS_DIR / f"tick-migration-{stamp}-{args.ticks}.json").write_text(
            json.dumps(result, indent=2)
        )
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
