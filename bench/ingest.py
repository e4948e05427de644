"""Ingest benchmark: quantdesk's validated ingest against a raw NautilusTrader catalog write.

What it measures, in one run on the same machine and the same bars:

* **quantdesk** -- ``Platform.ingest.ingest_bars`` of a CSV file on disk, wall clock, end to
  end: checksum, CSV parse, validation, compare with the catalog, wrangling into engine
  ``Bar`` objects, the staged Parquet write, file hashing and the lineage commit.
* **raw write** -- ``ParquetDataCatalog.write_data`` of the same bars, already wrangled into
  engine ``Bar`` objects by ``BarDataWrangler`` (the wrangling is timed on its own and reported
  as ``raw_wrangle_s`` for context, but it is not part of the raw figure).

Why: the issue sets the goal that ingest *with* validation keeps at least half the throughput
of the bare engine write, i.e. ``ratio = quantdesk rows/s / raw rows/s >= 0.5``. The raw path is
the floor any ingest must pay; everything quantdesk adds on top (reading a file, the rules,
de-duplication against the catalog, the atomic commit and lineage) is the overhead measured.

The bars come from quantdesk's deterministic synthetic market (seed 42, one instrument,
``SYN01.SIM``), so every run ingests the very same file. Writing that CSV is not timed. With
``--repeat N`` the two paths alternate N times, each in fresh directories, and the best run of
each is reported. The last line printed is a JSON object with all figures.

Run it with ``make bench`` (1,000,000 bars) or ``.venv/bin/python bench/ingest.py --bars N``.
"""

import argparse
import gc
import json
import math
import platform
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from nautilus_trader import __version__ as nautilus_version
from nautilus_trader.model.data import BarType
from nautilus_trader.persistence.catalog.parquet import ParquetDataCatalog
from nautilus_trader.persistence.wranglers import BarDataWrangler

import quantdesk
from quantdesk.adapters.nautilus.instruments import to_nautilus
from quantdesk.bootstrap import bootstrap
from quantdesk.services.synthetic import SyntheticMarketConfig, SyntheticSeries, generate_market

INSTRUMENT_ID = "SYN01.SIM"
BAR_SPEC = "1-MINUTE-LAST"
BAR_TYPE = f"{INSTRUMENT_ID}-{BAR_SPEC}-EXTERNAL"
BARS_PER_DAY = 1_440
GOAL = 0.5
RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class RawTiming:
    wrangle_s: float
    write_s: float


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--bars", type=int, default=1_000_000, help="bars to ingest")
    parser.add_argument(
        "--repeat", type=int, default=1, help="alternate the two paths N times; best of each"
    )
    parser.add_argument(
        "--verify", action="store_true", help="read the quantdesk catalog back and count its bars"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument(
        "--no-save", action="store_true", help=f"do not write the JSON to {RESULTS_DIR}"
    )
    args = parser.parse_args(argv)
    if args.bars < 1:
        parser.error("--bars must be >= 1")
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    return args


def make_series(n: int) -> SyntheticSeries:
    """The first ``n`` minute bars of the seed-42 synthetic market, one instrument."""
    config = SyntheticMarketConfig(instruments=1, days=math.ceil(n / BARS_PER_DAY), seed=42)
    series = generate_market(config)[0]
    if series.instrument.instrument_id != INSTRUMENT_ID:
        raise AssertionError(f"expected {INSTRUMENT_ID}, got {series.instrument.instrument_id}")
    return SyntheticSeries(
        instrument=series.instrument,
        bars=series.bars.take(np.arange(n)),
        regimes=series.regimes[:n],
    )


def write_csv(series: SyntheticSeries, path: Path) -> None:
    """The bars as a plain CSV: ISO-8601 UTC timestamps (``Z``), prices with 2 decimals."""
    bars = series.bars
    stamps = np.char.add(np.datetime_as_string(bars.ts_ns.astype("datetime64[ns]"), unit="s"), "Z")
    frame = pd.DataFrame(
        {
            "timestamp": stamps,
            "open": bars.open,
            "high": bars.high,
            "low": bars.low,
            "close": bars.close,
            "volume": bars.volume.astype(np.int64),
        }
    )
    if not np.array_equal(frame["volume"].to_numpy(dtype=np.float64), bars.volume):
        raise AssertionError("synthetic volume is not whole; the CSV would not round-trip")
    frame.to_csv(path, index=False, float_format="%.2f")


def bar_frame(series: SyntheticSeries) -> pd.DataFrame:
    bars = series.bars
    index = pd.to_datetime(bars.ts_ns, unit="ns", utc=True)
    return pd.DataFrame(
        {
            "open": bars.open,
            "high": bars.high,
            "low": bars.low,
            "close": bars.close,
            "volume": bars.volume,
        },
        index=index,
    )


def timed(action: Callable[[], Any]) -> tuple[Any, float]:
    gc.collect()
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def run_raw(series: SyntheticSeries, frame: pd.DataFrame, workdir: Path) -> RawTiming:
    instrument = to_nautilus(series.instrument)
    wrangler = BarDataWrangler(BarType.from_str(BAR_TYPE), instrument)
    bars, wrangle_s = timed(lambda: wrangler.process(frame))
    if len(bars) != len(frame):
        raise AssertionError(f"wrangler made {len(bars)} bars from {len(frame)} rows")
    catalog = ParquetDataCatalog(str(workdir))
    _, write_s = timed(lambda: catalog.write_data(bars))
    return RawTiming(wrangle_s=wrangle_s, write_s=write_s)


def run_quantdesk(series: SyntheticSeries, csv_path: Path, home: Path) -> float:
    desk = bootstrap(home=home)
    desk.instruments.add(series.instrument)
    summary, seconds = timed(lambda: desk.ingest.ingest_bars(csv_path, INSTRUMENT_ID, BAR_SPEC))
    n = len(series.bars)
    if summary.rows_written != n or summary.rows_rejected != 0:
        raise AssertionError(
            f"quantdesk wrote {summary.rows_written} and rejected {summary.rows_rejected} "
            f"of {n} rows (rejects: {summary.rejects_path})"
        )
    return seconds


def verify_catalog(home: Path, expected: int) -> int:
    catalog = ParquetDataCatalog(str(home / "catalog"))
    count = len(catalog.bars(bar_types=[BAR_TYPE]))
    if count != expected:
        raise AssertionError(f"the quantdesk catalog holds {count} bars, expected {expected}")
    return count


def peak_rss_mb() -> float:
    kilobytes = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return kilobytes * scale / 1e6


def table(rows: list[tuple[str, str, str]]) -> str:
    widths = [max(len(row[k]) for row in rows) for k in range(3)]
    lines = []
    for i, row in enumerate(rows):
        lines.append(
            f"{row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]:>{widths[2]}}".rstrip()
        )
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    n = args.bars
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="quantdesk-bench-"))
    try:
        print(f"generating {n:,} synthetic bars (seed 42, {INSTRUMENT_ID}) ...", flush=True)
        series = make_series(n)
        csv_path = workdir / "bars.csv"
        write_csv(series, csv_path)
        csv_mb = csv_path.stat().st_size / 1e6
        frame = bar_frame(series)
        print(f"wrote {csv_path} ({csv_mb:.1f} MB); untimed", flush=True)

        raw_runs: list[RawTiming] = []
        qd_runs: list[float] = []
        verified: int | None = None
        for attempt in range(1, args.repeat + 1):
            raw_dir = workdir / f"raw-{attempt}"
            raw = run_raw(series, frame, raw_dir)
            raw_runs.append(raw)
            print(
                f"[{attempt}/{args.repeat}] raw: wrangle {raw.wrangle_s:.3f}s, "
                f"write_data {raw.write_s:.3f}s",
                flush=True,
            )
            if not args.keep:
                shutil.rmtree(raw_dir)
            home = workdir / f"qd-{attempt}"
            seconds = run_quantdesk(series, csv_path, home)
            qd_runs.append(seconds)
            print(f"[{attempt}/{args.repeat}] quantdesk ingest_bars {seconds:.3f}s", flush=True)
            if args.verify and attempt == args.repeat:
                verified = verify_catalog(home, n)
                print(f"verified: the quantdesk catalog reads back {verified:,} bars", flush=True)
            if not args.keep:
                shutil.rmtree(home)

        best_raw = min(raw_runs, key=lambda r: r.write_s)
        raw_wrangle_s = min(r.wrangle_s for r in raw_runs)
        quantdesk_s = min(qd_runs)
        quantdesk_rate = n / quantdesk_s
        raw_rate = n / best_raw.write_s
        ratio = quantdesk_rate / raw_rate
        ratio_with_wrangle = quantdesk_rate / (n / (raw_wrangle_s + best_raw.write_s))
        rss = peak_rss_mb()
        total_s = time.perf_counter() - started

        best = f" (best of {args.repeat})" if args.repeat > 1 else ""
        print()
        print(f"ingest benchmark: {n:,} x {BAR_TYPE}{best}")
        print(
            table(
                [
                    ("path", "seconds", "rows/s"),
                    (
                        "quantdesk ingest_bars (CSV, validated)",
                        f"{quantdesk_s:.3f}",
                        f"{quantdesk_rate:,.0f}",
                    ),
                    (
                        "raw ParquetDataCatalog.write_data",
                        f"{best_raw.write_s:.3f}",
                        f"{raw_rate:,.0f}",
                    ),
                    (
                        "raw BarDataWrangler.process (context)",
                        f"{raw_wrangle_s:.3f}",
                        f"{n / raw_wrangle_s:,.0f}",
                    ),
                ]
            )
        )
        verdict = "meets" if ratio >= GOAL else "misses"
        print(f"ratio quantdesk / raw write: {ratio:.3f}  ({verdict} the goal >= {GOAL})")
        print(f"ratio quantdesk / raw wrangle + write: {ratio_with_wrangle:.3f}")
        print(f"peak RSS {rss:,.0f} MB; whole benchmark {total_s:.1f}s")

        result: dict[str, Any] = {
            "bars": n,
            "quantdesk_s": round(quantdesk_s, 4),
            "quantdesk_rows_per_s": round(quantdesk_rate),
            "raw_write_s": round(best_raw.write_s, 4),
            "raw_rows_per_s": round(raw_rate),
            "raw_wrangle_s": round(raw_wrangle_s, 4),
            "ratio": round(ratio, 4),
            "ratio_vs_wrangle_plus_write": round(ratio_with_wrangle, 4),
            "goal": GOAL,
            "meets_goal": ratio >= GOAL,
            "repeat": args.repeat,
            "quantdesk_runs_s": [round(s, 4) for s in qd_runs],
            "raw_write_runs_s": [round(r.write_s, 4) for r in raw_runs],
            "csv_mb": round(csv_mb, 2),
            "verified_rows": verified,
            "peak_rss_mb": round(rss, 1),
            "total_s": round(total_s, 2),
            "quantdesk_version": quantdesk.__version__,
            "nautilus_trader_version": str(nautilus_version),
            "python": platform.python_version(),
            "machine": platform.machine(),
            "at": datetime.now(tz=UTC).isoformat(timespec="seconds"),
        }
        if not args.no_save:
            RESULTS_DIR.mkdir(parents=True, exist_ok=True)
            stamp = datetime.now(tz=UTC).strftime("%Y%m%dT%H%M%SZ")
            (RESULTS_DIR / f"ingest-{stamp}-{n}.json").write_text(json.dumps(result, indent=2))
        print(json.dumps(result), flush=True)
        return 0
    finally:
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
