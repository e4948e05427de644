"""Migration benchmark: ``data migrate`` from PostgreSQL against a plain ``COPY ... TO`` export.

What it measures, on the same machine, the same server and the same table:

* **COPY** -- ``COPY (SELECT <the mapped columns> ... ORDER BY ts, id) TO STDOUT`` read to the
  end by psycopg (the bytes counted, nothing parsed): the physical limit of reading the table.
* **quantdesk** -- ``quantdesk data migrate`` of the same rows into a fresh catalog, in a child
  process, wall clock end to end (after the fresh home's one-time imports and schema): the
  snapshot, the streamed read, the same validation as CSV ingest, the catalog commit with
  lineage, the read-back digest of every chunk and its checkpoint. Its peak RSS is the
  child's (``ru_maxrss``; about 300 MB of it is the imported engine and libraries), and its
  CPU seconds (``migrate_cpu_s``: every thread of the child, not the server's) a figure the
  machine's load moves less than the wall clock.
* **read** -- the same child then reads the source alone (one snapshot, every chunk as the
  validation takes it, nothing written): the part of the migration that is the reader's.

Why: issue 16 sets the goal ``ratio = quantdesk rows/s / COPY rows/s >= 0.3`` for 2,000,000
bars, and a peak RSS under 500 MB for a 10,000,000-row migration (memory must not grow with
the table: ``--rss-rows`` migrates that many rows once, untimed against COPY).

The table is ``bench_bars`` in a database of its own (``quantdesk_bench``, dropped afterwards)
on ``--dsn`` (default the local server), filled with ``generate_series`` (one instrument, one
bar a minute, deterministic values), not timed. The last line printed is a JSON object.

Run it with ``make bench`` or ``.venv/bin/python bench/migration.py --rows 2000000``; without
a reachable server it says why and exits 0 (skipped), unless QUANTDESK_REQUIRE_SERVICES=1.
``--profile FILE`` writes the cProfile stats of the timed migration.
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

import quantdesk

GOAL_RATIO = 0.3
GOAL_RSS_MB = 500.0
DATABASE = "quantdesk_bench"
RESULTS_DIR = Path(__file__).resolve().parent / "results"
COLUMNS = "ts, o, h, l, c, v"
INSTRUMENTS = """instruments:
  - {instrument_id: BENCH.XNAS, asset_class: equity, currency: USD, tick_size: 0.01}
"""
MAPPING = {
    "name": "bench-bars",
    "kind": "bars",
    "table": "bench_bars",
    "bar_spec": "1-MINUTE-LAST",
    "columns": {"open": "o", "high": "h", "low": "l", "close": "c", "volume": "v"},
    "timestamp": {"column": "ts"},
    "instrument": {"instrument_id": "BENCH.XNAS"},
    "key": "id",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000, help="rows timed against COPY")
    parser.add_argument(
        "--rss-rows", type=int, default=10_000_000, help="rows of the peak-RSS run (0: skip)"
    )
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--chunk-rows", type=int, default=50_000)
    parser.add_argument("--no-save", action="store_true", help=f"do not write to {RESULTS_DIR}")
    parser.add_argument(
        "--profile",
        type=Path,
        help="write the cProfile stats of the timed migration here (its time is then inflated)",
    )
    return parser.parse_args(argv)


def database_url(admin: str) -> str:
    parts = conninfo_to_dict(admin)
    parts["dbname"] = DATABASE
    return make_conninfo(**{k: str(v) for k, v in parts.items()})


def fill(url: str, rows: int) -> None:
    """``rows`` one-minute bars from 2020-01-01, values a deterministic function of the row."""
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("DROP TABLE IF EXISTS bench_bars")
        db.execute(
            "CREATE TABLE bench_bars (id bigint PRIMARY KEY, ts timestamptz NOT NULL, "
            "o numeric NOT NULL, h numeric NOT NULL, l numeric NOT NULL, c numeric NOT NULL, "
            "v numeric NOT NULL)"
        )
        db.execute(
            "INSERT INTO bench_bars SELECT g, timestamptz '2020-01-01' + g * interval '1 minute', "
            "100 + mod(g, 97) * 0.01, 102 + mod(g, 97) * 0.01, 99 + mod(g, 89) * 0.01, "
            "100.5 + mod(g, 89) * 0.01, mod(g, 1000) FROM generate_series(1, %s) g",
            (rows,),
        )
        db.execute("CREATE INDEX ON bench_bars (ts, id)")
        db.execute("VACUUM ANALYZE bench_bars")


def copy_seconds(url: str, rows: int) -> tuple[float, int]:
    """Wall time of the export of the first ``rows`` rows in migration order, and its bytes."""
    query = f"COPY (SELECT {COLUMNS} FROM bench_bars WHERE id <= {rows} ORDER BY ts, id) TO STDOUT"
    size = 0
    with psycopg.connect(url) as db, db.cursor() as cursor:
        started = time.perf_counter()
        with cursor.copy(query) as copy:
            for block in copy:
                size += len(block)
        return time.perf_counter() - started, size


CHILD = """
import json, resource, sys, time
from pathlib import Path
from quantdesk.bootstrap import bootstrap
from quantdesk.services.migrations import mapping_from_document
home, mapping_file, instruments, url, profile = sys.argv[1:6]
desk = bootstrap(home=home)
for spec in desk.documents.read_file(Path(instruments)).data["instruments"]:
    from quantdesk.domain.instruments import InstrumentSpec
    desk.instruments.add(InstrumentSpec.model_validate(spec))
mapping = mapping_from_document(desk.documents.read_file(Path(mapping_file)))
service = desk.migrations
service.runs()  # a fresh home's one-time setup (imports, the registry's schema): not timed
profiler = None
if profile:
    import cProfile
    profiler = cProfile.Profile()
    profiler.enable()
def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
started, cpu_started = time.perf_counter(), cpu()
run = service.migrate(mapping, url, actor="bench")
seconds, cpu_seconds = time.perf_counter() - started, cpu() - cpu_started
if profiler is not None:
    profiler.disable()
    profiler.dump_stats(profile)
from quantdesk.adapters.sources.postgres_tables import PostgresTableSource
started, read = time.perf_counter(), 0  # the source alone: the rows as the validation takes them
with PostgresTableSource(url).snapshot(mapping) as snapshot:
    for chunk in snapshot.bar_chunks():
        read += chunk.rows
read_seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds,
    "rows_written": run.rows_written, "state": run.state,
    "read_seconds": read_seconds, "rows_read": read,
    "rows_rejected": run.rows_rejected, "chunks": run.chunks,
    "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def migrate_child(
    url: str, rows: int, chunk_rows: int, folder: Path, profile: Path | None = None
) -> dict[str, Any]:
    """``data migrate`` of the first ``rows`` rows in a fresh home, in its own process
    (under cProfile, its stats written to ``profile``, when given)."""
    mapping = {
        **MAPPING,
        "chunk_rows": chunk_rows,
        "filters": [{"column": "id", "op": "<=", "value": rows}],
    }
    mapping_file = folder / f"mapping-{rows}.json"
    mapping_file.write_text(json.dumps(mapping))
    instruments = folder / "instruments.yaml"
    instruments.write_text(INSTRUMENTS)
    home = folder / f"home-{rows}"
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            str(home),
            str(mapping_file),
            str(instruments),
            url,
            "" if profile is None else str(profile),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if (
        result["rows_written"] != rows
        or result["state"] != "completed"
        or result["rows_read"] != rows
    ):
        raise SystemExit(f"the migration of {rows:,} rows did not complete: {result}")
    return result


def server_absent(dsn: str) -> str | None:
    """Why the server cannot be used, or None: the bench is skipped without it (``make bench``
    runs on machines without PostgreSQL), unless QUANTDESK_REQUIRE_SERVICES=1."""
    try:
        psycopg.connect(dsn, connect_timeout=5).close()
    except psycopg.OperationalError as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        where = {k: v for k, v in conninfo_to_dict(dsn).items() if k != "password"}
        return f"PostgreSQL at {make_conninfo(**{k: str(v) for k, v in where.items()})}: {reason}"
    return None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    absent = server_absent(args.dsn)
    if absent is not None:
        if os.environ.get("QUANTDESK_REQUIRE_SERVICES") == "1":
            raise SystemExit(f"bench/migration.py needs {absent}")
        print(f"bench/migration.py skipped: it needs {absent} (start it, or pass --dsn)")
        return 0
    url = database_url(args.dsn)
    load_before = os.getloadavg()[0]  # the machine may be shared: the numbers say how busy
    with psycopg.connect(args.dsn, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{DATABASE}"')
    try:
        largest = max(args.rows, args.rss_rows)
        print(f"filling bench_bars with {largest:,} rows (not timed) ...", flush=True)
        fill(url, largest)
        copy_s, copy_bytes = copy_seconds(url, args.rows)
        print(
            f"COPY TO of {args.rows:,} rows: {copy_s:.2f}s, {copy_bytes / 1e6:,.0f} MB", flush=True
        )
        with tempfile.TemporaryDirectory(prefix="qd-bench-migration-") as folder:
            timed = migrate_child(url, args.rows, args.chunk_rows, Path(folder), args.profile)
            print(f"quantdesk migrate of {args.rows:,} rows: {timed['seconds']:.2f}s", flush=True)
            print(f"its source read alone: {timed['read_seconds']:.2f}s", flush=True)
            big = None
            if args.rss_rows:
                big = migrate_child(url, args.rss_rows, args.chunk_rows, Path(folder))
                print(
                    f"quantdesk migrate of {args.rss_rows:,} rows: {big['seconds']:.1f}s, "
                    f"peak RSS {big['rss_mb']:,.0f} MB",
                    flush=True,
                )
    finally:
        with psycopg.connect(args.dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    copy_rate = args.rows / copy_s
    rate = args.rows / timed["seconds"]
    ratio = rate / copy_rate
    print()
    print(
        f"migration rows/s {rate:,.0f} vs COPY TO rows/s {copy_rate:,.0f}: ratio {ratio:.3f} "
        f"({'meets' if ratio >= GOAL_RATIO else 'misses'} the goal >= {GOAL_RATIO})"
    )
    if big is not None:
        verdict = "meets" if big["rss_mb"] < GOAL_RSS_MB else "misses"
        print(
            f"peak RSS of {args.rss_rows:,} rows: {big['rss_mb']:,.0f} MB "
            f"({verdict} the goal < {GOAL_RSS_MB:.0f} MB)"
        )
    result = {
        "rows": args.rows,
        "chunk_rows": args.chunk_rows,
        "copy_s": round(copy_s, 3),
        "copy_mb": round(copy_bytes / 1e6, 1),
        "copy_rows_per_s": round(copy_rate),
        "migrate_s": round(timed["seconds"], 3),
        "migrate_rows_per_s": round(rate),
        "ratio": round(ratio, 4),
        "goal_ratio": GOAL_RATIO,
        "meets_ratio": ratio >= GOAL_RATIO,
        "migrate_cpu_s": round(timed["cpu_seconds"], 3),
        "migrate_rss_mb": round(timed["rss_mb"], 1),
        "read_s": round(timed["read_seconds"], 3),
        "read_rows_per_s": round(args.rows / timed["read_seconds"]),
        "read_ratio": round(copy_s / timed["read_seconds"], 4),
        "rss_rows": args.rss_rows,
        "rss_rows_s": None if big is None else round(big["seconds"], 1),
        "rss_rows_peak_mb": None if big is None else round(big["rss_mb"], 1),
        "goal_rss_mb": GOAL_RSS_MB,
        "meets_rss": None if big is None else big["rss_mb"] < GOAL_RSS_MB,
        "bench_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
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
        (RESULTS_DIR / f"migration-{stamp}-{args.rows}.json").write_text(
            json.dumps(result, indent=2)
        )
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
