"""One catalog data type for ticks: what ingest writes is what a run on that market data reads.

Ingest names a series by ``TickKind``; a definition says ``trades``, ``quotes`` or ``book``.
Both meet in ``market_feeds.TICK_KINDS``, and each kind's value is the folder the engine
itself files that class under, so the engine's own reads find what ingest wrote.
"""

from importlib import import_module

import pytest
from nautilus_trader.persistence.funcs import class_to_filename

from quantdesk.adapters.nautilus.tick_feeds import DATA_CLASSES
from quantdesk.domain.market_feeds import TICK_KINDS, MarketData, tick_kind
from quantdesk.domain.ticks import TickKind


def _engine_class(path: str) -> type:
    module, name = path.split(":")
    engine_class: type = getattr(import_module(module), name)
    return engine_class


@pytest.mark.parametrize("kind", list(TickKind))
def test_a_kind_is_the_folder_the_engine_files_its_class_under(kind: TickKind) -> None:
    assert class_to_filename(_engine_class(DATA_CLASSES[kind])) == kind.value


def test_every_tick_feed_streams_one_kind_and_bars_none() -> None:
    assert [m.value for m in MarketData] == ["bars", "trades", "quotes", "book"]
    assert tick_kind(MarketData.BARS) is None
    assert {m: tick_kind(m) for m in TICK_KINDS} == {
        MarketData.TRADES: TickKind.TRADE,
        MarketData.QUOTES: TickKind.QUOTE,
        MarketData.BOOK: TickKind.DELTA,
    }


def test_runs_and_ingest_name_a_kind_alike() -> None:
    assert [(k.noun, k.long_noun) for k in TickKind] == [
        ("trades", "trade ticks"),
        ("quotes", "quote ticks"),
        ("deltas", "order-book deltas"),
    ]
