"""TESTS ONLY: trade and quote ticks written into a desk's catalog with the engine's own
``ParquetDataCatalog.write_data`` (until tick ingest lands, this is how ticks get there).

A seeded random walk on the instrument's tick grid: gaps between trades drawn around
``mean_gap_ns``, prices moving a few ticks at a time, sizes 1..200, aggressors random. The
same seed gives the same ticks, bit for bit.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.instruments import Instrument
from nautilus_trader.persistence.catalog import ParquetDataCatalog
from nautilus_trader.persistence.wranglers import QuoteTickDataWrangler, TradeTickDataWrangler

from quantdesk.bootstrap import bootstrap
from quantdesk.services.synthetic import synthetic_instrument

START_NS = 1_704_067_200_000_000_000  # 2024-01-01 00:00 UTC
CHUNK = 500_000


@dataclass(frozen=True)
class TickPath:
    ts_ns: np.ndarray
    price: np.ndarray
    size: np.ndarray
    buyer: np.ndarray


def tick_path(
    n: int, seed: int, start_ns: int = START_NS, mean_gap_ns: int = 1_000_000_000
) -> TickPath:
    rng = np.random.default_rng(seed)
    gaps = rng.integers(1, 2 * mean_gap_ns, size=n, dtype=np.int64)
    ts = start_ns + np.cumsum(gaps)
    steps = rng.choice(np.array([-2, -1, 0, 0, 1, 2]), size=n)
    cents = np.maximum(10_000 + np.cumsum(steps), 100)  # 100.00 USD, never under 1.00
    return TickPath(
        ts_ns=ts,
        price=cents / 100.0,
        size=rng.integers(1, 201, size=n).astype(np.float64),
        buyer=rng.random(n) < 0.5,
    )


def catalog_instrument(home: Path, index: int = 0) -> Instrument:
    """A synthetic instrument defined on the desk, as the engine's catalog holds it."""
    spec = synthetic_instrument(index)
    bootstrap(home=home).instruments.add(spec)
    catalog = ParquetDataCatalog(str(home / "catalog"))
    (found,) = catalog.instruments(instrument_ids=[spec.instrument_id])
    return found


def write_trade_ticks(home: Path, n: int, seed: int, index: int = 0, **path: int) -> TickPath:
    """``n`` trade ticks of synthetic instrument ``index`` into the desk's catalog."""
    instrument = catalog_instrument(home, index)
    ticks = tick_path(n, seed, **path)
    catalog = ParquetDataCatalog(str(home / "catalog"))
    wrangler = TradeTickDataWrangler(instrument)
    for lo in range(0, n, CHUNK):
        part = slice(lo, min(n, lo + CHUNK))
        frame = pd.DataFrame(
            {
                "price": ticks.price[part],
                "quantity": ticks.size[part],
                "side": np.where(ticks.buyer[part], "BUY", "SELL"),
                "trade_id": [f"T{i}" for i in range(part.start, part.stop)],
            },
            index=pd.to_datetime(ticks.ts_ns[part], unit="ns", utc=True),
        )
        catalog.write_data(wrangler.process(frame))
    return ticks


def write_quote_ticks(home: Path, n: int, seed: int, index: int = 0) -> TickPath:
    """``n`` quote ticks (bid = the walk, ask one cent above) of instrument ``index``."""
    instrument = catalog_instrument(home, index)
    ticks = tick_path(n, seed)
    frame = pd.DataFrame(
        {
            "bid_price": ticks.price,
            "ask_price": np.round(ticks.price + 0.01, 2),
            "bid_size": ticks.size,
            "ask_size": ticks.size[::-1].copy(),
        },
        index=pd.to_datetime(ticks.ts_ns, unit="ns", utc=True),
    )
    catalog = ParquetDataCatalog(str(home / "catalog"))
    catalog.write_data(QuoteTickDataWrangler(instrument).process(frame))
    return ticks


def instrument_id(index: int = 0) -> InstrumentId:
    return InstrumentId.from_str(synthetic_instrument(index).instrument_id)
