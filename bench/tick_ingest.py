"""Tick ingest throughput and memory: ``data ingest trades`` against the raw engine write.

Writes N deterministic trade ticks to a CSV file (untimed), then times in fresh homes:
``quantdesk``, the whole ingest (checksum, survey, parse, validation, engine objects, staged
files, lineage commit); ``again``, the same file again (every row found present, nothing
written); and ``raw``, the engine's ``TradeTickDataWrangler.process`` + ``write_data`` of
the same ticks from a DataFrame already in memory (no parsing, no validation). Peak RSS
is measured in a child process per path, so one path's heap does not hide the other's.

    .venv/bin/python bench/tick_ingest.py --ticks 1000000 [--chunk-rows 100000]
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

START_NS = 1_704_067_200_000_000_000
INSTRUMENT = "SYN01.SIM"


def write_csv(path: Path, n: int) -> None:
    rng = np.random.default_rng(42)
    ts = START_NS + np.cumsum(rng.integers(1, 2_000_000, n))
    cents = np.maximum(10_000 + np.cumsum(rng.choice([-2, -1, 0, 0, 1, 2], n)), 100)
    sizes = rng.integers(1, 201, n)
    sides = np.where(rng.random(n) < 0.5, "BUYER", "SELLER")
    with path.open("w") as handle:
        handle.write("timestamp,price,size,aggressor_side,trade_id\n")
        for i in range(n):
            handle.write(
                f"{ts[i]},{cents[i] // 100}.{cents[i] % 100:02d},{sizes[i]},{sides[i]},{i}\n"
            )


def child(mode: str, csv: Path, home: Path, chunk_rows: int) -> dict[str, float]:
    """One timed path, in this (child) process."""
    if mode == "raw":
        import pandas as pd
        from nautilus_trader.persistence.catalog.parquet import ParquetDataCatalog
        from nautilus_trader.persistence.wranglers import TradeTickDataWrangler

        from quantdesk.adapters.nautilus.instruments import to_nautilus
        from quantdesk.services.synthetic import synthetic_instrument

        frame = pd.read_csv(csv)
        frame.index = pd.to_datetime(frame.pop("timestamp"), unit="ns", utc=True)
        frame = frame.rename(columns={"size": "quantity", "aggressor_side": "side"})
        frame["side"] = frame["side"].map({"BUYER": "BUY", "SELLER": "SELL"})
        frame["trade_id"] = frame["trade_id"].astype(str)
        started = time.perf_counter()
        ticks = TradeTickDataWrangler(to_nautilus(synthetic_instrument(0))).process(frame)
        ParquetDataCatalog(str(home / "raw")).write_data(ticks)
        seconds = time.perf_counter() - started
    else:
        from quantdesk.bootstrap import bootstrap
        from quantdesk.domain.ticks import TickIngestOptions, TickKind
        from quantdesk.services.synthetic import synthetic_instrument

        desk = bootstrap(home=home)
        desk.instruments.add(synthetic_instrument(0))
        options = TickIngestOptions(chunk_rows=chunk_rows)
        if mode == "again":
            desk.ticks.ingest(csv, TickKind.TRADE, INSTRUMENT, options)
        started = time.perf_counter()
        summary = desk.ticks.ingest(csv, TickKind.TRADE, INSTRUMENT, options)
        seconds = time.perf_counter() - started
        assert summary.rows_rejected == 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "peak_rss_mb": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=1_000_000)
    parser.add_argument("--chunk-rows", type=int, default=100_000)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, csv, home = args.child
        print(json.dumps(child(mode, Path(csv), Path(home), args.chunk_rows)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "trades.csv"
        write_csv(csv, args.ticks)
        result: dict[str, object] = {
            "ticks": args.ticks,
            "chunk_rows": args.chunk_rows,
            "csv_mb": round(csv.stat().st_size / 2**20, 1),
        }
        for mode in ("quantdesk", "again", "raw"):
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--chunk-rows",
                    str(args.chunk_rows),
                    "--child",
                    mode,
                    str(csv),
                    str(Path(tmp) / mode),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            figures = json.loads(out.stdout.strip().splitlines()[-1])
            result[f"{mode}_s"] = round(figures["seconds"], 2)
            result[f"{mode}_rows_per_s"] = round(args.ticks / figures["seconds"])
            result[f"{mode}_peak_rss_mb"] = round(figures["peak_rss_mb"])
        result["ratio_vs_raw"] = round(float(result["raw_s"]) / float(result["quantdesk_s"]), 2)  # type: ignore[arg-type]
        print(json.dumps(result))


if __name__ == "__main__":
    main()
