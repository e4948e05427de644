"""The quantdesk participant of the backtest benchmark: request -> runner -> result with metrics.

Two steps, each meant to run in its own fresh process (``backtest.py`` does that):

* ``ingest --data FILE --home DIR`` -- untimed setup: ``bootstrap(home=DIR)``, define
  ``AAPL.XNAS`` (equity, USD, tick 0.01, no fees), ingest gen_data.py's Parquet file (column
  ``timestamp``: tz-aware UTC bar *close* times, as the catalog expects) as ``1-MINUTE-LAST``.
* ``run --home DIR`` -- the timed backtest: ``desk.backtests.run(request)`` by registry
  reference for the trend_following family version the ``ema_cross`` shorthand registers
  (untimed; ma_type ema), long only, EMA(10)/EMA(50), 100 shares, no orders on the last bar
  (``trade_until_ns`` = the last bar's close time), CASH account, NETTING, 1,000,000 USD,
  logging off, closed orders purged every 1,000 simulated minutes (= 1,000 bars) and bars
  streamed in chunks of 100,000, the same work as the raw runner's tuned / node variants.

``run_s`` is the whole ``run()`` call: checking the request against the catalog, the engine run,
quantdesk's own analysis (equity curve, metrics, attribution) and storing the result (Parquet
fills/positions/curve and the HTML report). ``engine_s`` is the engine part only
(``result.facts.wall_seconds``, i.e. ``BacktestNode.run()``); ``phases_s`` splits ``run_s`` by
the service's progress steps. Each step prints one JSON line; ``peak_rss_mb`` is the process's
``ru_maxrss`` at the end, MiB like the shared runners (plus the largest child's, if any).
"""

import argparse
import gc
import json
import resource
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import quantdesk
from quantdesk.bootstrap import bootstrap
from quantdesk.domain.backtest import BacktestRequest
from quantdesk.domain.instruments import InstrumentSpec
from quantdesk.services.shorthand import register_shorthand
from quantdesk.settings import QuantdeskSettings

INSTRUMENT_ID = "AAPL.XNAS"
BAR_SPEC = "1-MINUTE-LAST"
BAR_TYPE = f"{INSTRUMENT_ID}-{BAR_SPEC}-EXTERNAL"
FAST = 10
SLOW = 50
QTY = 100
CASH = 1_000_000


def _settings(home: Path) -> QuantdeskSettings:
    """The desk without the registration's smoke backtest: a child process of its own whose
    memory would count as this participant's (the bench measures the backtest)."""
    return QuantdeskSettings(home=home, validation_smoke=False)


def peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    """Peak resident set size of this process (or its largest child), MiB (Linux: KiB)."""
    kilobytes = resource.getrusage(who).ru_maxrss
    return kilobytes / (1024 * 1024 if sys.platform == "darwin" else 1024)


def peak_rss_total_mb() -> float:
    """This process's peak plus its largest child's, should quantdesk ever run the engine in a
    child process: an upper bound that cannot hide memory there (0 children adds nothing)."""
    return peak_rss_mb() + peak_rss_mb(resource.RUSAGE_CHILDREN)


class PhaseTimer:
    """A ``ProgressReporter`` that records how long each step of the service takes."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.peak_rss_mb: dict[str, float] = {}

    @contextmanager
    def task(self, description: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
        started = time.perf_counter()
        try:
            yield _ignore
        finally:
            self.seconds[description] = self.seconds.get(description, 0.0) + (
                time.perf_counter() - started
            )
            self.peak_rss_mb[description] = round(peak_rss_mb(), 1)


def _ignore(_: int) -> None:
    return None


def ingest(data: Path, home: Path) -> dict[str, Any]:
    started = time.perf_counter()
    desk = bootstrap(_settings(home))
    desk.instruments.add(
        InstrumentSpec(
            instrument_id=INSTRUMENT_ID,
            asset_class="equity",
            currency="USD",
            tick_size=Decimal("0.01"),
        )
    )
    summary = desk.ingest.ingest_bars(data, INSTRUMENT_ID, BAR_SPEC)
    seconds = time.perf_counter() - started
    if summary.rows_rejected or summary.rows_written != summary.rows_read:
        raise SystemExit(
            f"quantdesk ingest wrote {summary.rows_written} of {summary.rows_read} rows, "
            f"rejected {summary.rows_rejected} ({summary.rejected_by_reason}); "
            f"rejects: {summary.rejects_path}"
        )
    return {
        "step": "quantdesk-ingest",
        "rows": summary.rows_written,
        "first_ts": summary.first_ts,
        "last_ts": summary.last_ts,
        "ingest_s": round(seconds, 4),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def run(home: Path, purge_minutes: int, chunk_size: int) -> dict[str, Any]:
    started = time.perf_counter()
    desk = bootstrap(_settings(home))
    entries = [e for e in desk.catalog.entries(INSTRUMENT_ID) if e.identifier == BAR_TYPE]
    if not entries:
        raise SystemExit(f"no {BAR_TYPE} in the catalog at {home}: run the ingest step first")
    last_ts = entries[0].last_ts
    refs, options = register_shorthand(  # the registered trend_following version (EMA)
        desk.registry,
        "ema_cross",
        [INSTRUMENT_ID],
        BAR_SPEC,
        {
            "fast": FAST,
            "slow": SLOW,
            "trade_size": QTY,
            "long_only": True,
            "trade_until_ns": last_ts,
        },
        "bench",
    )
    request = BacktestRequest(
        strategies=refs,
        **options,
        venues=[
            {
                "name": INSTRUMENT_ID.rsplit(".", 1)[1],
                "account_type": "CASH",
                "oms_type": "NETTING",
                "starting_balance": str(CASH),
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
    phases = PhaseTimer()
    gc.collect()

    cpu = time.process_time()
    started = time.perf_counter()
    result = desk.backtests.run(request, phases)
    run_s = time.perf_counter() - started
    cpu = time.process_time() - cpu

    facts = result.facts
    metrics = result.metrics
    engine_s = facts.wall_seconds
    return {
        "framework": "quantdesk",
        "version": quantdesk.__version__,
        "variant": f"node,purge_every={purge_minutes}min,chunk_size={chunk_size},no-analysis",
        "bars": facts.bars,
        "trades": metrics.trade_count,
        "final_equity": round(metrics.end_equity, 2),
        "load_s": round(load_s, 4),
        "run_s": round(run_s, 4),
        "bars_per_s": round(facts.bars / run_s, 1) if run_s > 0 else None,
        "peak_rss_mb": round(peak_rss_total_mb(), 1),
        "peak_rss_children_mb": round(peak_rss_mb(resource.RUSAGE_CHILDREN), 1),
        "engine_s": round(engine_s, 4),
        "engine_bars_per_s": round(facts.bars / engine_s, 1) if engine_s > 0 else None,
        "outside_engine_s": round(run_s - engine_s, 4),
        "run_cpu_s": round(cpu, 4),  # process CPU time of run(); cpu/wall << 1: contention
        "phases_s": {k: round(v, 4) for k, v in phases.seconds.items()},
        "phases_peak_rss_mb": phases.peak_rss_mb,
        "fills": facts.fills,
        "orders": facts.orders,
        "positions_closed": facts.positions_closed,
        "events_processed": facts.events_processed,
        "nautilus_trader_version": facts.nautilus_trader_version,
        "run_id": result.run_id,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    steps = parser.add_subparsers(dest="step", required=True)
    step = steps.add_parser("ingest", help="untimed: define the instrument, ingest the bars")
    step.add_argument("--data", type=Path, required=True, help="bars Parquet file (gen_data.py)")
    step.add_argument("--home", type=Path, required=True, help="quantdesk home (fresh)")
    step = steps.add_parser("run", help="timed: desk.backtests.run(request)")
    step.add_argument("--home", type=Path, required=True, help="quantdesk home, ingested")
    step.add_argument(
        "--purge-minutes", type=int, default=1_000, help="simulated minutes between purges"
    )
    step.add_argument("--chunk-size", type=int, default=100_000, help="bars per streamed chunk")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.step == "ingest":
        record = ingest(args.data, args.home)
    else:
        record = run(args.home, args.purge_minutes, args.chunk_size)
    print(json.dumps(record), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
