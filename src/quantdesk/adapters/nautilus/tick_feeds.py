"""A plan's tick and book feeds as the engine's configs: what it streams, how venues fill.

A strategy on ``trades`` or ``quotes`` subscribes to ``-INTERNAL`` bars: the engine's data
engine builds them from the ticks (LAST bars from trade ticks, BID/ASK/MID bars from quote
ticks; time bars on the simulated clock, tick bars every N ticks), while the venue's
matching engine fills orders against the ticks themselves. Trades move a venue's market only
with ``trade_execution`` on, so it is on for a venue whose instruments stream trades.

On ``book`` the run streams L2 deltas, the venue keeps an L2 book and fills against its
depth; the bars are built from the top of the book (:mod:`book_quotes`).
"""

from decimal import Decimal
from pathlib import Path
from typing import Any

from nautilus_trader.backtest.config import BacktestDataConfig
from nautilus_trader.model.identifiers import InstrumentId

from quantdesk.adapters.nautilus.book_quotes import BookQuotes, BookQuotesConfig
from quantdesk.adapters.nautilus.built_bars import BuiltBars, BuiltBarsConfig
from quantdesk.domain.backtest_plan import RunPlan, instrument_of
from quantdesk.domain.market_feeds import TICK_KINDS, MarketData, is_internal
from quantdesk.domain.ticks import TickKind

DATA_CLASSES = {
    TickKind.TRADE: "nautilus_trader.model.data:TradeTick",
    TickKind.QUOTE: "nautilus_trader.model.data:QuoteTick",
    TickKind.DELTA: "nautilus_trader.model.data:OrderBookDelta",
}


def tick_data_configs(root: Path, plan: RunPlan) -> list[BacktestDataConfig]:
    """One data config per instrument on ticks or the book, within the range (per instrument:
    the node looks for a venue's book data by ``instrument_id``)."""
    return [
        BacktestDataConfig(
            catalog_path=str(root),
            data_cls=DATA_CLASSES[TICK_KINDS[market_data]],
            instrument_id=InstrumentId.from_str(instrument_id),
            start_time=plan.start_ns,
            end_time=plan.end_ns,
        )
        for instrument_id, market_data in plan.tick_feeds.items()
    ]


def venue_feeds(plan: RunPlan, venue: str) -> frozenset[MarketData]:
    return frozenset(m for i, m in plan.feeds.items() if i.rsplit(".", 1)[1] == venue)


def venue_execution(feeds: frozenset[MarketData]) -> dict[str, Any]:
    """The venue options its feeds need (none for bars only: the venue as it always was)."""
    options: dict[str, Any] = {}
    if MarketData.TRADES in feeds:
        options["trade_execution"] = True
    if MarketData.BOOK in feeds:
        options["book_type"] = "L2_MBP"
    return options


def join_feed_actors(plan: RunPlan, engine: Any) -> BuiltBars | None:
    """The actors a run on ticks or the book needs, on a built engine: the book's quotes
    (for its bars) and the keeper of the bars built; None for a run on bars alone."""
    books = sorted(i for i, m in plan.tick_feeds.items() if m is MarketData.BOOK)
    if books:
        engine.add_actor(
            BookQuotes(BookQuotesConfig(component_id="QuantdeskBookQuotes", instrument_ids=books))
        )
    built = [b for b in plan.bar_types if is_internal(b)]
    if not built:
        return None
    keeper = BuiltBars(BuiltBarsConfig(component_id="QuantdeskBuiltBars", bar_types=built))
    engine.add_actor(keeper)
    return keeper


def bar_spreads(plan: RunPlan) -> dict[str, Decimal]:
    """The venues' ``bar_spread`` per streamed bar type (bars the engine builds have none)."""
    return {
        bar_type: spread
        for bar_type in plan.bar_types
        if not is_internal(bar_type)
        and (spread := plan.venue_of(instrument_of(bar_type)).bar_spread) is not None
    }
