"""A plan's tick and book feeds as the engine's configs: what it streams, how venues fill.

A strategy on ``trades`` or ``quotes`` subscribes to ``-INTERNAL`` bars: the engine's data
engine builds them from the ticks (LAST bars from trade ticks, BID/ASK/MID bars from quote
ticks; time bars on the simulated clock, tick bars every N ticks), while the venue's
matching engine fills orders against the ticks themselves. Trades move a venue's market only
with ``trade_execution`` on, so it is on for a venue whose instruments stream trades.
"""

from decimal import Decimal
from pathlib import Path
from typing import Any

from nautilus_trader.backtest.config import BacktestDataConfig

from quantdesk.domain.backtest_plan import RunPlan, instrument_of
from quantdesk.domain.market_feeds import MarketData, is_internal

DATA_CLASSES = {
    MarketData.TRADES: "nautilus_trader.model.data:TradeTick",
    MarketData.QUOTES: "nautilus_trader.model.data:QuoteTick",
    MarketData.BOOK: "nautilus_trader.model.data:OrderBookDelta",
}


def tick_data_configs(root: Path, plan: RunPlan) -> list[BacktestDataConfig]:
    """One data config per kind of tick feed, for all its instruments, within the range."""
    by_kind: dict[MarketData, list[str]] = {}
    for instrument_id, market_data in plan.tick_feeds.items():
        by_kind.setdefault(market_data, []).append(instrument_id)
    return [
        BacktestDataConfig(
            catalog_path=str(root),
            data_cls=DATA_CLASSES[kind],
            instrument_ids=instruments,
            start_time=plan.start_ns,
            end_time=plan.end_ns,
        )
        for kind, instruments in sorted(by_kind.items())
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


def bar_spreads(plan: RunPlan) -> dict[str, Decimal]:
    """The venues' ``bar_spread`` per streamed bar type (bars the engine builds have none)."""
    return {
        bar_type: spread
        for bar_type in plan.bar_types
        if not is_internal(bar_type)
        and (spread := plan.venue_of(instrument_of(bar_type)).bar_spread) is not None
    }
