"""Raw NautilusTrader runner for the backtest benchmark: the engine as a user would drive it.

The canonical strategy of ``../shared/bench`` (see its ``common.py``): long-only EMA(10)/EMA(50)
cross on one equity, ``AAPL.XNAS`` from ``TestInstrumentProvider.equity`` (USD, tick 0.01, no
fees), CASH account, NETTING OMS, 1,000,000 USD, market orders of 100 shares that fill at the
close of the signal bar (bar execution, no latency model), no new orders on the last bar.
Logging is bypassed and ``run_analysis=False`` (quantdesk computes its own metrics, so the
engine's post-run analysis would be paid twice); ``--analysis`` switches it back on, as in the
shared runner. Without ``--analysis`` the analysis is still timed once after the run, untimed
for ``run_s``, and reported as ``analysis_s``, so the shared default costs ``run_s + analysis_s``.

Three ways to run it:

* ``--data FILE`` -- a hand-built ``BacktestEngine`` fed all bars at once (like
  ``../shared/bench/run_nautilus.py``). ``load_s`` = read Parquet + ``BarDataWrangler`` + engine
  setup + ``add_data``; ``run_s`` = ``engine.run(streaming=True)`` (``loop_s``) +
  ``engine.end()`` (``post_s``), i.e. exactly ``engine.run()``.
* ``--purge-every N`` -- the strategy calls ``cache.purge_closed_orders(now)`` every N bars
  (the tuning of nautilus-notes §8; without it the cache slows the run down super-linearly).
* ``--node --catalog DIR`` -- ``BacktestNode`` streaming the bars from a ``ParquetDataCatalog``
  in chunks (``--chunk-size``, default 100,000), the engine's own memory-bounded way.
  ``load_s`` = node build (engine, venue, instrument from the catalog) + adding the strategy;
  ``run_s`` = ``node.run()``, which includes reading the catalog chunk by chunk. The catalog is
  written beforehand, untimed, by ``--write-catalog DIR --data FILE`` (in its own process, so
  its memory does not count here).

Prints one JSON line (the fields of the shared runners: framework, version, bars, trades,
final_equity, load_s, run_s, bars_per_s, peak_rss_mb, plus details). ``peak_rss_mb`` is this
process's ``ru_maxrss`` at the end, in MiB like the shared runners.
"""

import argparse
import gc
import json
import resource
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import nautilus_trader
import pandas as pd
from nautilus_trader.backtest.config import (
    BacktestDataConfig,
    BacktestRunConfig,
    BacktestVenueConfig,
)
from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
from nautilus_trader.backtest.node import BacktestNode
from nautilus_trader.config import LoggingConfig, StrategyConfig
from nautilus_trader.indicators import ExponentialMovingAverage
from nautilus_trader.model.currencies import USD
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.enums import AccountType, OmsType, OrderSide, TimeInForce
from nautilus_trader.model.events import PositionClosed
from nautilus_trader.model.identifiers import InstrumentId, Venue
from nautilus_trader.model.instruments import Instrument
from nautilus_trader.model.objects import Money, Quantity
from nautilus_trader.persistence.catalog.parquet import ParquetDataCatalog
from nautilus_trader.persistence.wranglers import BarDataWrangler
from nautilus_trader.test_kit.providers import TestInstrumentProvider
from nautilus_trader.trading.strategy import Strategy

FAST = 10
SLOW = 50
QTY = 100
CASH = 1_000_000
VENUE = "XNAS"
BAR_SPEC = "1-MINUTE-LAST"
META_FILE = "bench-meta.json"  # written next to the catalog: bar count, last bar's ts and close


class EmaCrossConfig(StrategyConfig, frozen=True, kw_only=True):
    instrument_id: InstrumentId
    bar_type: BarType
    trade_size: Decimal
    last_ts: int  # ts_event of the final bar: no new orders on it
    fast_ema_period: int = FAST
    slow_ema_period: int = SLOW
    purge_every: int = 0  # purge closed orders every N bars; 0 = never


class EmaCrossLongOnly(Strategy):
    """Buy when EMA(fast) > EMA(slow) and flat; sell everything when it is <= and long."""

    def __init__(self, config: EmaCrossConfig) -> None:
        super().__init__(config)
        self.instrument_id = config.instrument_id
        self.bar_type = config.bar_type
        self.last_ts = config.last_ts
        self.purge_every = config.purge_every
        self.fast_ema = ExponentialMovingAverage(config.fast_ema_period)
        self.slow_ema = ExponentialMovingAverage(config.slow_ema_period)
        self.qty: Quantity | None = None
        self.bars_seen = 0
        self.closed_trades = 0
        self.fills = 0

    def on_start(self) -> None:
        instrument = self.cache.instrument(self.instrument_id)
        self.qty = instrument.make_qty(self.config.trade_size)
        self.register_indicator_for_bars(self.bar_type, self.fast_ema)
        self.register_indicator_for_bars(self.bar_type, self.slow_ema)
        self.subscribe_bars(self.bar_type)

    def on_bar(self, bar: Bar) -> None:
        self.bars_seen += 1
        if self.purge_every and self.bars_seen % self.purge_every == 0:
            self.cache.purge_closed_orders(self.clock.timestamp_ns())
        # the indicators already saw this bar; both are initialized from bar index 49 on
        if not self.indicators_initialized() or bar.ts_event >= self.last_ts:
            return
        if self.fast_ema.value > self.slow_ema.value:
            if self.portfolio.is_flat(self.instrument_id):
                self.submit_order(
                    self.order_factory.market(
                        instrument_id=self.instrument_id,
                        order_side=OrderSide.BUY,
                        quantity=self.qty,
                        time_in_force=TimeInForce.GTC,
                    )
                )
        elif self.portfolio.is_net_long(self.instrument_id):
            self.close_all_positions(self.instrument_id)

    def on_order_filled(self, event: Any) -> None:
        self.fills += 1

    def on_position_closed(self, event: PositionClosed) -> None:
        self.closed_trades += 1


def instrument() -> Instrument:
    return TestInstrumentProvider.equity(symbol="AAPL", venue=VENUE)


def bar_type_of(inst: Instrument) -> BarType:
    return BarType.from_str(f"{inst.id}-{BAR_SPEC}-EXTERNAL")


def read_frame(path: Path) -> pd.DataFrame:
    """gen_data.py's bars, indexed by their (close) timestamp, as ``BarDataWrangler`` wants."""
    return pd.read_parquet(path).set_index("timestamp")


def peak_rss_mb() -> float:
    """Peak resident set size of this process, MiB (Linux ``ru_maxrss`` is KiB)."""
    kilobytes = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kilobytes / (1024 * 1024 if sys.platform == "darwin" else 1024)


def logging_config() -> LoggingConfig:
    return LoggingConfig(log_level="ERROR", bypass_logging=True)


def write_catalog(data: Path, root: Path) -> dict[str, Any]:
    """Write the instrument and the bars to a fresh catalog at ``root`` (the node's input)."""
    started = time.perf_counter()
    inst = instrument()
    frame = read_frame(data)
    bars = BarDataWrangler(bar_type=bar_type_of(inst), instrument=inst).process(frame)
    catalog = ParquetDataCatalog(str(root))
    catalog.write_data([inst])
    catalog.write_data(bars)
    meta = {
        "bars": len(bars),
        "first_ts": bars[0].ts_event,
        "last_ts": bars[-1].ts_event,
        "last_close": bars[-1].close.as_double(),
    }
    (root / META_FILE).write_text(json.dumps(meta))
    meta["write_s"] = round(time.perf_counter() - started, 4)
    return meta


def analysis_seconds(engine: BacktestEngine, venue: Venue) -> float:
    """Time the engine's default post-run analysis (what ``run_analysis=True`` adds to end())."""
    started = time.perf_counter()
    kernel = engine.kernel
    positions = [
        p
        for p in kernel.cache.positions() + kernel.cache.position_snapshots()
        if p.instrument_id.venue == venue
    ]
    account = engine.portfolio.account(venue)
    analyzer = engine.portfolio.analyzer
    analyzer.calculate_statistics(account, positions)
    for currency in {p.quote_currency for p in positions}:
        analyzer.get_stats_pnls_formatted(currency, None)
    analyzer.get_stats_returns_formatted()
    analyzer.get_stats_general_formatted()
    return time.perf_counter() - started


def outcome(
    engine: BacktestEngine, strategy: EmaCrossLongOnly, venue: Venue, last_close: float
) -> dict[str, Any]:
    account = engine.portfolio.account(venue)
    cash = account.balance_total(USD).as_double()
    net = float(engine.portfolio.net_position(strategy.instrument_id))
    return {
        "trades": strategy.closed_trades,
        "final_equity": round(cash + net * last_close, 2),
        "fills": strategy.fills,
        "open_position": net,
        "orders_in_cache": len(engine.cache.orders()),
    }


def run_engine(args: argparse.Namespace) -> dict[str, Any]:
    """All bars in memory, one ``BacktestEngine`` built by hand."""
    venue = Venue(VENUE)
    inst = instrument()
    bar_type = bar_type_of(inst)
    started = time.perf_counter()
    frame = read_frame(args.data)
    bars = BarDataWrangler(bar_type=bar_type, instrument=inst).process(frame)
    del frame
    engine = BacktestEngine(
        config=BacktestEngineConfig(
            trader_id="BENCH-001", logging=logging_config(), run_analysis=args.analysis
        )
    )
    engine.add_venue(
        venue=venue,
        oms_type=OmsType.NETTING,
        account_type=AccountType.CASH,
        base_currency=USD,
        starting_balances=[Money(CASH, USD)],
    )
    engine.add_instrument(inst)
    engine.add_data(bars)
    n = len(bars)
    last_ts = bars[-1].ts_event
    last_close = bars[-1].close.as_double()
    del bars
    strategy = EmaCrossLongOnly(
        EmaCrossConfig(
            instrument_id=inst.id,
            bar_type=bar_type,
            trade_size=Decimal(QTY),
            last_ts=last_ts,
            purge_every=args.purge_every,
        )
    )
    engine.add_strategy(strategy)
    load_s = time.perf_counter() - started
    gc.collect()

    cpu = time.process_time()
    started = time.perf_counter()
    engine.run(streaming=True)  # the main loop; engine.run() is exactly this + end()
    loop_s = time.perf_counter() - started
    engine.end()
    run_s = time.perf_counter() - started
    cpu = time.process_time() - cpu

    record = {
        "bars": n,
        "load_s": load_s,
        "run_s": run_s,
        "loop_s": loop_s,
        "post_s": run_s - loop_s,
        "run_cpu_s": cpu,  # process CPU time of the timed run; cpu/wall << 1 means contention
        **outcome(engine, strategy, venue, last_close),
    }
    if not args.analysis:
        record["analysis_s"] = analysis_seconds(engine, venue)
    engine.dispose()
    return record


def run_node(args: argparse.Namespace) -> dict[str, Any]:
    """``BacktestNode`` streaming from the catalog in chunks of ``--chunk-size`` bars."""
    meta = json.loads((args.catalog / META_FILE).read_text())
    venue = Venue(VENUE)
    inst = instrument()
    bar_type = bar_type_of(inst)
    started = time.perf_counter()
    config = BacktestRunConfig(
        engine=BacktestEngineConfig(
            trader_id="BENCH-001", logging=logging_config(), run_analysis=args.analysis
        ),
        venues=[
            BacktestVenueConfig(
                name=VENUE,
                oms_type="NETTING",
                account_type="CASH",
                base_currency="USD",
                starting_balances=[f"{CASH} USD"],
            )
        ],
        data=[
            BacktestDataConfig(
                catalog_path=str(args.catalog),
                data_cls=Bar,
                instrument_id=inst.id,
                bar_spec=BAR_SPEC,
            )
        ],
        chunk_size=args.chunk_size,
        dispose_on_completion=False,
        raise_exception=True,
    )
    node = BacktestNode(configs=[config])
    node.build()
    engine = node.get_engine(config.id)
    strategy = EmaCrossLongOnly(
        EmaCrossConfig(
            instrument_id=inst.id,
            bar_type=bar_type,
            trade_size=Decimal(QTY),
            last_ts=meta["last_ts"],
            purge_every=args.purge_every,
        )
    )
    engine.add_strategy(strategy)
    load_s = time.perf_counter() - started
    gc.collect()

    cpu = time.process_time()
    started = time.perf_counter()
    (result,) = node.run()
    run_s = time.perf_counter() - started
    cpu = time.process_time() - cpu

    record = {
        "bars": meta["bars"],
        "load_s": load_s,
        "run_s": run_s,
        "run_cpu_s": cpu,
        "chunk_size": args.chunk_size,
        "iterations": int(result.iterations),
        **outcome(engine, strategy, venue, meta["last_close"]),
    }
    if not args.analysis:
        record["analysis_s"] = analysis_seconds(engine, venue)
    node.dispose()
    return record


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, help="bars Parquet file from gen_data.py")
    parser.add_argument(
        "--purge-every", type=int, default=0, help="purge closed orders every N bars (0 = never)"
    )
    parser.add_argument(
        "--analysis", action="store_true", help="run_analysis=True (the engine default)"
    )
    parser.add_argument("--node", action="store_true", help="BacktestNode streaming from --catalog")
    parser.add_argument("--catalog", type=Path, help="catalog directory (--node, --write-catalog)")
    parser.add_argument("--chunk-size", type=int, default=100_000, help="bars per chunk (--node)")
    parser.add_argument(
        "--write-catalog",
        action="store_true",
        help="only write --data into a fresh catalog at --catalog, for --node",
    )
    args = parser.parse_args(argv)
    if args.purge_every < 0:
        parser.error("--purge-every must be >= 0")
    if args.chunk_size < 1:
        parser.error("--chunk-size must be >= 1")
    if (args.node or args.write_catalog) and args.catalog is None:
        parser.error("--node and --write-catalog need --catalog")
    if not args.node and args.data is None:
        parser.error("--data is required (except with --node)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.write_catalog:
        meta = write_catalog(args.data, args.catalog)
        print(json.dumps({"catalog": str(args.catalog), **meta}), flush=True)
        return 0
    record = run_node(args) if args.node else run_engine(args)
    variant = "node" if args.node else "engine"
    variant += f",purge_every={args.purge_every}" if args.purge_every else ",no-purge"
    variant += ",analysis" if args.analysis else ",no-analysis"
    out = {
        "framework": "nautilus_trader",
        "version": str(nautilus_trader.__version__),
        "variant": variant,
        "bars": record.pop("bars"),
        "trades": record.pop("trades"),
        "final_equity": record.pop("final_equity"),
        "load_s": round(record.pop("load_s"), 4),
        "run_s": round(record["run_s"], 4),
        "bars_per_s": None,
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
    run_s = record.pop("run_s")
    out["bars_per_s"] = round(out["bars"] / run_s, 1) if run_s > 0 else None
    out.update({k: round(v, 4) if isinstance(v, float) else v for k, v in record.items()})
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
