"""Tick backtest bench: quantdesk on trade ticks against raw NautilusTrader on the same ticks.

Goal (issue 16): a tick backtest's ticks/s at least **0.9x** the raw engine's on the same
ticks. One deterministic market: N trade ticks of ``AAPL.XNAS`` (equity, USD, tick 0.01), a
seeded random walk (seed 42) with gaps between trades drawn uniformly in (0, 2 s), sizes
1..200 and random aggressors, written into a quantdesk home's catalog with the engine's own
``ParquetDataCatalog.write_data`` (untimed, in its own process). The same strategy on both
sides: long-only EMA(10)/EMA(50) cross on 1-minute bars the engine builds from the ticks
(``AAPL.XNAS-1-MINUTE-LAST-INTERNAL``), 100 shares, market orders filled against the ticks
(``trade_execution``), CASH account, NETTING, 1,000,000 USD, no orders once the last tick is
reached, closed orders purged every 1,000 bars, ticks streamed from the catalog in chunks of
100,000.

* ``raw``: ``BacktestNode`` over the catalog's ``TradeTick`` running
  ``raw_nautilus.EmaCrossLongOnly``; timed: ``node.run()``.
* ``quantdesk``: ``desk.backtests.run(request)`` for a registered ``trend_following``
  version with ``market_data: trades``; timed: the whole call (checks, engine, analysis,
  stored result and report); ``engine s`` is its engine part alone.

Both must make the same trades and fills. Final equity may differ by the mark of a position
still open at the end: the raw runner marks it at the last tick, quantdesk at the last bar
the engine built (ticks after that bar's close belong to no bar).

Each runs in a fresh process, ``--repeat`` rounds taking turns; the best of each is kept
(a shared 2-core machine moves single runs by 10-20%). Prints a table, the ratio (quantdesk
ticks/s / raw ticks/s, on the whole ``run()`` and on the engine part alone), whether both
made the same trades, and one JSON line (saved under ``bench/results/`` unless ``--no-save``).
"""

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
INSTRUMENT_ID = "AAPL.XNAS"
BAR_SPEC = "1-MINUTE-LAST"
START_NS = 1_704_067_200_000_000_000  # 2024-01-01 00:00 UTC
SEED = 42
CHUNK = 500_000
META = "tick-bench.json"


def write(home: Path, ticks: int) -> dict[str, Any]:
    """The instrument defined on a fresh desk, then ``ticks`` trade ticks in its catalog."""
    import numpy as np
    import pandas as pd
    from nautilus_trader.persistence.catalog import ParquetDataCatalog
    from nautilus_trader.persistence.wranglers import TradeTickDataWrangler

    from quantdesk.bootstrap import bootstrap
    from quantdesk.domain.instruments import InstrumentSpec
    from quantdesk.settings import QuantdeskSettings

    started = time.perf_counter()
    desk = bootstrap(QuantdeskSettings(home=home, validation_smoke=False))
    desk.instruments.add(
        InstrumentSpec(
            instrument_id=INSTRUMENT_ID,
            asset_class="equity",
            currency="USD",
            tick_size=Decimal("0.01"),
        )
    )
    catalog = ParquetDataCatalog(str(home / "catalog"))
    (instrument,) = catalog.instruments(instrument_ids=[INSTRUMENT_ID])
    rng = np.random.default_rng(SEED)
    ts = START_NS + np.cumsum(rng.integers(1, 2_000_000_000, size=ticks, dtype=np.int64))
    cents = np.maximum(10_000 + np.cumsum(rng.choice([-2, -1, 0, 0, 1, 2], size=ticks)), 100)
    sizes = rng.integers(1, 201, size=ticks).astype(np.float64)
    buyer = rng.random(ticks) < 0.5
    wrangler = TradeTickDataWrangler(instrument)
    for lo in range(0, ticks, CHUNK):
        part = slice(lo, min(ticks, lo + CHUNK))
        frame = pd.DataFrame(
            {
                "price": cents[part] / 100.0,
                "quantity": sizes[part],
                "side": np.where(buyer[part], "BUY", "SELL"),
                "trade_id": [f"T{i}" for i in range(part.start, part.stop)],
            },
            index=pd.to_datetime(ts[part], unit="ns", utc=True),
        )
        catalog.write_data(wrangler.process(frame))
    meta = {
        "ticks": ticks,
        "first_ts": int(ts[0]),
        "last_ts": int(ts[-1]),
        "last_price": float(cents[-1] / 100.0),
    }
    (home / META).write_text(json.dumps(meta))
    return {"step": "write", **meta, "write_s": round(time.perf_counter() - started, 2)}


def run_raw(home: Path, chunk_size: int, purge_every: int) -> dict[str, Any]:
    sys.path.insert(0, str(HERE))
    from nautilus_trader.backtest.config import (
        BacktestDataConfig,
        BacktestEngineConfig,
        BacktestRunConfig,
        BacktestVenueConfig,
    )
    from nautilus_trader.backtest.node import BacktestNode
    from nautilus_trader.model.data import BarType
    from nautilus_trader.model.identifiers import InstrumentId, Venue

    from raw_nautilus import EmaCrossConfig, EmaCrossLongOnly, logging_config, outcome

    meta = json.loads((home / META).read_text())
    instrument_id = InstrumentId.from_str(INSTRUMENT_ID)
    started = time.perf_counter()
    config = BacktestRunConfig(
        engine=BacktestEngineConfig(
            trader_id="BENCH-001", logging=logging_config(), run_analysis=False
        ),
        venues=[
            BacktestVenueConfig(
                name=instrument_id.venue.value,
                oms_type="NETTING",
                account_type="CASH",
                base_currency="USD",
                starting_balances=["1000000 USD"],
                trade_execution=True,
            )
        ],
        data=[
            BacktestDataConfig(
                catalog_path=str(home / "catalog"),
                data_cls="nautilus_trader.model.data:TradeTick",
                instrument_id=instrument_id,  # as quantdesk's config (a list reads slower)
            )
        ],
        chunk_size=chunk_size,
        dispose_on_completion=False,
        raise_exception=True,
    )
    node = BacktestNode(configs=[config])
    node.build()
    engine = node.get_engine(config.id)
    strategy = EmaCrossLongOnly(
        EmaCrossConfig(
            instrument_id=instrument_id,
            bar_type=BarType.from_str(f"{INSTRUMENT_ID}-{BAR_SPEC}-INTERNAL"),
            trade_size=Decimal(100),
            last_ts=meta["last_ts"],
            purge_every=purge_every,
        )
    )
    engine.add_strategy(strategy)
    load_s = time.perf_counter() - started
    gc.collect()
    started = time.perf_counter()
    (result,) = node.run()
    run_s = time.perf_counter() - started
    record = {
        "participant": "raw",
        "ticks": meta["ticks"],
        "load_s": round(load_s, 3),
        "run_s": round(run_s, 3),
        "engine_s": round(run_s, 3),
        "iterations": int(result.iterations),
        "bars_seen": strategy.bars_seen,
        **outcome(engine, strategy, Venue(instrument_id.venue.value), meta["last_price"]),
        "peak_rss_mb": peak_rss_mb(),
    }
    node.dispose()
    return record


def run_quantdesk(home: Path, chunk_size: int, purge_minutes: int) -> dict[str, Any]:
    from quantdesk.bootstrap import bootstrap
    from quantdesk.domain.backtest import BacktestRequest
    from quantdesk.domain.strategies.problems import parse_definition
    from quantdesk.settings import QuantdeskSettings

    meta = json.loads((home / META).read_text())
    started = time.perf_counter()
    desk = bootstrap(QuantdeskSettings(home=home, validation_smoke=False))
    registered = desk.registry.register(
        parse_definition(
            {
                "strategy_id": "tick-ema-cross",
                "family": "trend_following",
                "name": "EMA 10/50 cross on trade ticks",
                "instruments": [INSTRUMENT_ID],
                "bar_spec": BAR_SPEC,
                "market_data": "trades",
                "parameters": {
                    "fast_period": 10,
                    "slow_period": 50,
                    "ma_type": "ema",
                    "trade_size": "100",
                    "long_only": True,
                },
            }
        ),
        "bench",
    )
    request = BacktestRequest(
        strategies=[registered.stored.ref],
        trade_until_ns=meta["last_ts"],
        venues=[
            {
                "name": INSTRUMENT_ID.rsplit(".", 1)[1],
                "account_type": "CASH",
                "oms_type": "NETTING",
                "starting_balance": "1000000",
                "base_currency": "USD",
            }
        ],
        engine={
            "log_level": "OFF",
            "purge_interval_minutes": purge_minutes,
            "chunk_size": chunk_size,
        },
    )
    load_s = time.perf_counter() - started
    gc.collect()
    started = time.perf_counter()
    result = desk.backtests.run(request)
    run_s = time.perf_counter() - started
    return {
        "participant": "quantdesk",
        "ticks": result.facts.ticks,
        "load_s": round(load_s, 3),
        "run_s": round(run_s, 3),
        "engine_s": round(result.facts.wall_seconds, 3),
        "iterations": result.facts.events_processed,
        "trades": result.metrics.trade_count,
        "final_equity": round(result.metrics.end_equity, 2),
        "fills": result.facts.fills,
        "run_id": result.run_id,
        "peak_rss_mb": peak_rss_mb(),
    }


def peak_rss_mb() -> float:
    """This process's peak resident set size, MiB (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _child(argv: list[str], timeout: float) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    if done.returncode != 0:
        raise SystemExit(f"{argv[0]} failed:\n{done.stderr[-3000:]}")
    record: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return record


def _rate(record: dict[str, Any], key: str) -> float:
    return record["ticks"] / record[key] if record[key] > 0 else 0.0


def drive(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="tick-bench-") as scratch:
        home = Path(scratch) / "home"
        written = _child(["write", "--home", str(home), "--ticks", str(args.ticks)], args.timeout)
        print(f"wrote {written['ticks']:,} trade ticks in {written['write_s']} s")
        common = ["--home", str(home), "--chunk-size", str(args.chunk_size)]
        best: dict[str, dict[str, Any]] = {}
        rounds: list[dict[str, Any]] = []
        for _ in range(args.repeat):
            for name in ("raw", "quantdesk"):
                record = _child([name, *common], args.timeout)
                record["load_average"] = round(os.getloadavg()[0], 2)
                rounds.append(record)
                if name not in best or record["run_s"] < best[name]["run_s"]:
                    best[name] = record
        raw, ours = best["raw"], best["quantdesk"]
        print(
            f"{'participant':<11} {'ticks':>10} {'run s':>8} {'ticks/s':>10} {'engine s':>9} "
            f"{'trades':>7} {'final equity':>14} {'peak MiB':>9}"
        )
        for record in (raw, ours):
            print(
                f"{record['participant']:<11} {record['ticks']:>10,} {record['run_s']:>8.2f} "
                f"{_rate(record, 'run_s'):>10,.0f} {record['engine_s']:>9.2f} "
                f"{record['trades']:>7,} {record['final_equity']:>14,.2f} "
                f"{record['peak_rss_mb']:>9,.0f}"
            )
        ratio = _rate(ours, "run_s") / _rate(raw, "run_s")
        engine_ratio = _rate(ours, "engine_s") / _rate(raw, "engine_s")
        same = (raw["trades"], raw["fills"]) == (ours["trades"], ours["fills"])
        verdict = "met" if ratio >= 0.9 else "MISSED"
        print(f"ratio {ratio:.3f} (goal >= 0.9: {verdict}); engine only {engine_ratio:.3f}")
        print(f"same trades and fills: {same}")
        summary = {
            "bench": "tick_backtest",
            "ticks": args.ticks,
            "repeat": args.repeat,
            "ratio": round(ratio, 4),
            "engine_ratio": round(engine_ratio, 4),
            "goal_met": ratio >= 0.9,
            "same_trades": same,
            "best": best,
            "rounds": rounds,
        }
        print(json.dumps(summary))
        if not args.no_save:
            out = HERE / "results"
            out.mkdir(exist_ok=True)
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            (out / f"tick_backtest-{stamp}-{args.ticks}.json").write_text(json.dumps(summary))
        return 0 if same else 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    steps = parser.add_subparsers(dest="step")
    step = steps.add_parser("write", help="untimed: a fresh home with N trade ticks")
    step.add_argument("--home", type=Path, required=True)
    step.add_argument("--ticks", type=int, required=True)
    for name in ("raw", "quantdesk"):
        step = steps.add_parser(name, help=f"timed: the {name} participant")
        step.add_argument("--home", type=Path, required=True)
        step.add_argument("--chunk-size", type=int, default=100_000)
        step.add_argument("--purge", type=int, default=1_000, help="bars (minutes) per purge")
    parser.add_argument("--ticks", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--chunk-size", type=int, default=100_000)
    parser.add_argument("--timeout", type=float, default=3_600)
    parser.add_argument("--no-save", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.step is None:
        return drive(args)
    if args.step == "write":
        record = write(args.home, args.ticks)
    elif args.step == "raw":
        record = run_raw(args.home, args.chunk_size, args.purge)
    else:
        record = run_quantdesk(args.home, args.chunk_size, args.purge)
    print(json.dumps(record), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
