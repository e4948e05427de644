"""The raw engine alone on ``multi_asset.py``'s markets: what NautilusTrader itself costs.

Reads a market prepared by ``multi_asset.py --step prepare`` (its catalog: instruments and
1-minute bars) into a hand-built ``BacktestEngine`` (USD margin account at ``SIM``, netting,
1,000,000 USD, bar execution, logging bypassed) and runs ``raw_nautilus.py``'s long-only
EMA(10)/EMA(50) cross of one unit on every instrument: no quantdesk actor, gate, rate feed or
settlement module. For the JPY instruments the engine needs a USD/JPY quote to convert a fill
into the account's base currency (``Cache.get_xrate`` reads only quote ticks of currency
pairs): ``--xrate`` adds, as data, a quote of a pair ``USD/JPY-XRATE.SIM`` at each change of
USD/JPY's close (what quantdesk's rate feed quotes into the cache); without it the engine
books no PnL for them. Prints one JSON line: bars, fills, ``run_s`` and ``cpu_s`` of
``engine.run()``.

    .venv/bin/python bench/multi_asset.py --step prepare --kind multi --home /tmp/m --days 30
    .venv/bin/python bench/raw_multi_asset.py --home /tmp/m --xrate
"""

import argparse
import gc
import json
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
from nautilus_trader.model.currencies import USD
from nautilus_trader.model.data import Bar, BarType, QuoteTick
from nautilus_trader.model.enums import AccountType, OmsType, OptionKind
from nautilus_trader.model.identifiers import InstrumentId, Symbol, Venue
from nautilus_trader.model.instruments import CurrencyPair, OptionContract
from nautilus_trader.model.objects import Money, Price, Quantity
from nautilus_trader.persistence.catalog.parquet import ParquetDataCatalog

sys.path.insert(0, str(Path(__file__).resolve().parent))
from raw_nautilus import EmaCrossConfig, EmaCrossLongOnly, logging_config

CASH = 1_000_000


def xrate_quotes(pair: Any, bars: list[Bar]) -> tuple[CurrencyPair, list[QuoteTick]]:
    """A cache-only pair quoting ``pair``'s closes (bid = ask) where they change."""
    symbol = f"{pair.base_currency.code}/{pair.quote_currency.code}-XRATE"
    xrate = CurrencyPair(
        instrument_id=InstrumentId(Symbol(symbol), pair.id.venue),
        raw_symbol=Symbol(symbol),
        base_currency=pair.base_currency,
        quote_currency=pair.quote_currency,
        price_precision=pair.price_precision,
        size_precision=0,
        price_increment=Price(10.0**-pair.price_precision, pair.price_precision),
        size_increment=Quantity.from_int(1),
        ts_event=0,
        ts_init=0,
    )
    size, last, quotes = Quantity.from_int(1), None, []
    for bar in bars:
        if bar.close != last:
            last = bar.close
            quotes.append(
                QuoteTick(
                    xrate.id, bar.close, bar.close, size, size, bar.ts_event - 1, bar.ts_init - 1
                )
            )
    return xrate, quotes


def run(home: Path, xrate: bool) -> dict[str, Any]:
    catalog = ParquetDataCatalog(str(home / "catalog"))
    # the instruments multi_asset.py trades: the chain's put is in the catalog, not traded
    instruments = [
        i
        for i in catalog.instruments()
        if not (isinstance(i, OptionContract) and i.option_kind == OptionKind.PUT)
    ]
    engine = BacktestEngine(
        config=BacktestEngineConfig(trader_id="BENCH-001", logging=logging_config())
    )
    engine.add_venue(
        venue=Venue("SIM"),
        oms_type=OmsType.NETTING,
        account_type=AccountType.MARGIN,
        base_currency=USD,
        starting_balances=[Money(CASH, USD)],
    )
    bars_total, quotes_total = 0, 0
    for instrument in instruments:
        engine.add_instrument(instrument)
        bar_type = BarType.from_str(f"{instrument.id}-1-MINUTE-LAST-EXTERNAL")
        bars = catalog.bars(bar_types=[str(bar_type)])
        engine.add_data(bars)
        bars_total += len(bars)
        if xrate and isinstance(instrument, CurrencyPair) and instrument.quote_currency != USD:
            pair, quotes = xrate_quotes(instrument, bars)
            engine.add_instrument(pair)
            engine.add_data(quotes)
            quotes_total += len(quotes)
        config = EmaCrossConfig(
            instrument_id=instrument.id,
            bar_type=bar_type,
            trade_size=Decimal(1),
            last_ts=bars[-1].ts_event,
            purge_every=1_000,
        )
        engine.add_strategy(EmaCrossLongOnly(config))
    gc.collect()
    started, cpu = time.perf_counter(), time.process_time()
    engine.run()
    run_s, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    fills = sum(s.fills for s in engine.trader.strategies())
    account = engine.cache.account_for_venue(Venue("SIM"))
    record = {
        "instruments": sorted(str(i.id) for i in instruments),
        "bars": bars_total,
        "xrate_quotes": quotes_total,
        "fills": fills,
        "run_s": round(run_s, 3),
        "cpu_s": round(cpu_s, 3),
        "bars_per_s": round(bars_total / run_s, 1),
        "balance_usd": account.balance_total(USD).as_double(),
    }
    engine.dispose()
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--home", type=Path, required=True, help="a prepared multi_asset home")
    parser.add_argument("--xrate", action="store_true", help="quote USD/JPY for conversion")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.home, args.xrate)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
