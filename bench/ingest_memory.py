"""Ingest memory benchmark: peak RSS and rows/s of a 10,000,000-row CSV and Parquet ingest.

What it measures, each in a fresh child process (so nothing of the parent counts):

* **csv** / **parquet** -- ``bootstrap(home).ingest.ingest_bars(file, ...)`` of N one-minute
  bars into a fresh catalog, end to end (checksum, survey, chunked read, validation, compare
  with the catalog, staged Parquet write, the one commit with lineage). Peak RSS is the
  child's own high-water mark (``VmHWM`` in ``/proc/self/status``; ``ru_maxrss`` where there
  is no ``/proc``), rows/s is N over the wall time of the ``ingest_bars`` call.
* **import floor** -- a child that only imports ``quantdesk.bootstrap`` (what every ingest
  imports: the engine, pandas, pyarrow) and does nothing: the part of the peak no ingest can
  avoid.

Why: issue 16 sets the goal that a 10,000,000-row ingest stays under 500 MB of peak RSS,
flat in the file size (a 2,000,000-row CSV used to peak at about 2.9 GB).

The files are generated (untimed) in a temporary directory, a million rows at a time with
numpy and pyarrow: ISO-8601 UTC timestamps, prices in cents, whole volumes; every row valid.
The last line printed is a JSON object with all figures.

Run it with ``make bench`` or ``.venv/bin/python bench/ingest_memory.py --rows 10000000``.
"""

import argparse
import json
import platform
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

import quantdesk

GOAL_MB = 500.0
RESULTS_DIR = Path(__file__).resolve().parent / "results"
START_NS = 1_577_836_800_000_000_000  # 2020-01-01T00:00:00Z
MINUTE_NS = 60_000_000_000
BLOCK_ROWS = 1_000_000

PEAK = """
def peak_mb():
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""

FLOOR_CHILD = (
    PEAK
    + """
import json
import quantdesk.bootstrap
print(json.dumps({"rss_mb": peak_mb()}))
"""
)

INGEST_CHILD = (
    PEAK
    + """
import json, sys, time
from decimal import Decimal
from quantdesk.bootstrap import bootstrap
from quantdesk.domain.instruments import AssetClass, InstrumentSpec
home, path, chunk_rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
desk = bootstrap(home=home)
desk.instruments.add(InstrumentSpec(instrument_id="BENCH.XNAS", asset_class=AssetClass.EQUITY,
    currency="USD", tick_size=Decimal("0.01")))
started = time.perf_counter()
summary = desk.ingest.ingest_bars(path, "BENCH.XNAS", "1-MINUTE-LAST", chunk_rows=chunk_rows)
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "rows_written": summary.rows_written,
    "rows_rejected": summary.rows_rejected, "files": len(summary.files_added),
    "rss_mb": peak_mb()}))
"""
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=10_000_000, help="bars in each file")
    parser.add_argument(
        "--chunk-rows", type=int, default=None, help="ingest chunk size (default: the service's)"
    )
    parser.add_argument("--skip-parquet", action="store_true", help="only the CSV ingest")
    parser.add_argument("--no-save", action="store_true", help=f"do not write to {RESULTS_DIR}")
    args = parser.parse_args(argv)
    if args.rows < 1:
        parser.error("--rows must be >= 1")
    return args


def block(first: int, rows: int, seed: int) -> pa.Table:
    """Rows ``first .. first+rows-1``: a random walk in cents, valid OHLC, whole volumes."""
    rng = np.random.default_rng(seed + first)
    index = np.arange(first, first + rows, dtype=np.int64)
    stamps = (START_NS + (index + 1) * MINUTE_NS).astype("datetime64[ns]")
    iso = np.char.add(np.datetime_as_string(stamps, unit="s"), "Z")
    open_cents = 10_000 + (index * 7919 + rng.integers(0, 50, rows)) % 5_000
    close_cents = open_cents + rng.integers(-25, 26, rows)
    high_cents = np.maximum(open_cents, close_cents) + rng.integers(0, 10, rows)
    low_cents = np.minimum(open_cents, close_cents) - rng.integers(0, 10, rows)
    return pa.table(
        {
            "timestamp": pa.array(iso, pa.string()),
            "open": open_cents / 100,
            "high": high_cents / 100,
            "low": low_cents / 100,
            "close": close_cents / 100,
            "volume": rng.integers(1, 10_000, rows),
        }
    )


def write_files(rows: int, folder: Path, parquet: bool) -> tuple[Path, Path | None]:
    csv_path = folder / "bars.csv"
    parquet_path = folder / "bars.parquet" if parquet else None
    csv_writer = parquet_writer = None
    try:
        for first in range(0, rows, BLOCK_ROWS):
            table = block(first, min(BLOCK_ROWS, rows - first), seed=42)
            if csv_writer is None:
                csv_writer = pacsv.CSVWriter(csv_path, table.schema)
            csv_writer.write_table(table)
            if parquet_path is not None:
                if parquet_writer is None:
                    parquet_writer = pq.ParquetWriter(parquet_path, table.schema)
                parquet_writer.write_table(table)
    finally:
        if csv_writer is not None:
            csv_writer.close()
        if parquet_writer is not None:
            parquet_writer.close()
    return csv_path, parquet_path


def child(code: str, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], check=False, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"child failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def ingest(path: Path, home: Path, rows: int, chunk_rows: int) -> dict[str, Any]:
    result = child(INGEST_CHILD, str(home), str(path), str(chunk_rows))
    if result["rows_written"] != rows or result["rows_rejected"]:
        raise SystemExit(f"the ingest of {path.name} did not write every row: {result}")
    result["rows_per_s"] = rows / result["seconds"]
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from quantdesk.services.ingest import DEFAULT_CHUNK_ROWS

    chunk_rows = args.chunk_rows or DEFAULT_CHUNK_ROWS
    floor = child(FLOOR_CHILD)
    print(f"import floor (quantdesk.bootstrap): {floor['rss_mb']:,.0f} MB", flush=True)
    runs: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="qd-bench-ingest-memory-") as tmp:
        folder = Path(tmp)
        print(f"writing {args.rows:,} rows as CSV and Parquet (not timed) ...", flush=True)
        csv_path, parquet_path = write_files(args.rows, folder, not args.skip_parquet)
        sizes = {"csv": csv_path.stat().st_size}
        files = {"csv": csv_path}
        if parquet_path is not None:
            sizes["parquet"] = parquet_path.stat().st_size
            files["parquet"] = parquet_path
        for kind, path in files.items():
            print(f"ingesting {path.name} ({sizes[kind] / 1e6:,.0f} MB) ...", flush=True)
            runs[kind] = ingest(path, folder / f"home-{kind}", args.rows, chunk_rows)
            run = runs[kind]
            print(
                f"  {run['seconds']:.1f}s, {run['rows_per_s']:,.0f} rows/s, "
                f"peak RSS {run['rss_mb']:,.0f} MB, {run['files']} catalog files",
                flush=True,
            )
    print()
    verdicts = {}
    for kind, run in runs.items():
        verdicts[kind] = run["rss_mb"] < GOAL_MB
        print(
            f"{kind:8} peak RSS {run['rss_mb']:7,.0f} MB "
            f"({run['rss_mb'] - floor['rss_mb']:,.0f} MB "
            f"over the import floor), {run['rows_per_s']:9,.0f} rows/s: "
            f"{'PASS' if verdicts[kind] else 'FAIL'} (goal < {GOAL_MB:.0f} MB)"
        )
    result = {
        "rows": args.rows,
        "chunk_rows": chunk_rows,
        "goal_rss_mb": GOAL_MB,
        "import_floor_mb": round(floor["rss_mb"], 1),
        **{
            f"{kind}_{name}": round(value, 2) if isinstance(value, float) else value
            for kind, run in runs.items()
            for name, value in run.items()
            if name != "rows_written"
        },
        **{f"{kind}_file_mb": round(size / 1e6, 1) for kind, size in sizes.items()},
        "passes": all(verdicts.values()),
        "quantdesk_version": quantdesk.__version__,
        "python": platform.python_version(),
        "at": datetime.now(tz=UTC).isoformat(timespec="seconds"),
    }
    if not args.no_save:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(tz=UTC).strftime("%Y%m%dT%H%M%SZ")
        (RESULTS_DIR / f"ingest-memory-{stamp}-{args.rows}.json").write_text(
            json.dumps(result, indent=2)
        )
    print(json.dumps(result), flush=True)
    return 0 if result["passes"] else 1


if __name__ == "__main__":
    sys.exit(main())
