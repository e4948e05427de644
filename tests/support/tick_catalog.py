"""TESTS ONLY: trade and quote ticks and book deltas written into a desk's catalog with the
engine's own ``ParquetDataCatalog.write_data``: the backtests' inputs, independent of
quantdesk's tick ingest (one test backtests ingested ticks too).

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


BookLevels = tuple[tuple[tuple[float, float], ...], tuple[tuple[float, float], ...]]
"""(bids best first, asks best first), each level (price, size)."""


def write_book_deltas(
    home: Path, events: int, seed: int, index: int = 0, levels: int = 5, f_last: bool = True
) -> list[tuple[int, BookLevels]]:
    """``events`` L2 book events of instrument ``index``, one a second: each clears the book
    and lays ``levels`` bids and asks a cent apart around a walking mid, its last delta
    flagged ``F_LAST`` (unless not ``f_last``). Returns each event's time and book (for the
    tests' own walk)."""
    from nautilus_trader.model.data import BookOrder, OrderBookDelta
    from nautilus_trader.model.enums import BookAction, OrderSide, RecordFlag
    from nautilus_trader.model.objects import Price, Quantity

    instrument = catalog_instrument(home, index)
    rng = np.random.default_rng(seed)
    mids = 10_000 + np.cumsum(rng.choice(np.array([-2, -1, 0, 1, 2]), size=events))
    sizes = rng.integers(50, 151, size=(events, 2, levels))
    deltas: list[OrderBookDelta] = []
    books: list[tuple[int, BookLevels]] = []
    sequence = 0
    for k in range(events):
        ts = START_NS + (k + 1) * 1_000_000_000
        sequence += 1
        deltas.append(OrderBookDelta.clear(instrument.id, sequence, ts, ts))
        bids = tuple(((mids[k] - 1 - j) / 100.0, float(sizes[k, 0, j])) for j in range(levels))
        asks = tuple(((mids[k] + 1 + j) / 100.0, float(sizes[k, 1, j])) for j in range(levels))
        sides = [(OrderSide.BUY, level) for level in bids] + [(OrderSide.SELL, a) for a in asks]
        for n, (side, (price, size)) in enumerate(sides):
            sequence += 1
            order = BookOrder(side, Price(price, 2), Quantity(size, 0), int(price * 100))
            flags = int(RecordFlag.F_LAST) if f_last and n == len(sides) - 1 else 0
            deltas.append(
                OrderBookDelta(instrument.id, BookAction.ADD, order, flags, sequence, ts, ts)
            )
        books.append((ts, (bids, asks)))
    ParquetDataCatalog(str(home / "catalog")).write_data(deltas)
    return books
