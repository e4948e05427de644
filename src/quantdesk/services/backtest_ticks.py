"""A plan's tick and book feeds against the catalog: present in the range, pinned, listed.

A strategy on ``trades`` with no trade ticks for its instrument in the range would run on an
empty stream and trade nothing, indistinguishable from one that chose not to: refused here,
before the run, naming what the catalog does hold.
"""

from collections.abc import Mapping

from quantdesk.domain.backtest import DataUsed
from quantdesk.domain.backtest_plan import RunPlan
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.market_feeds import TICK_KINDS, MarketData
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.domain.time import ns_to_text
from quantdesk.services.ports import TickCatalog

_WHOLE = (0, 2**63 - 1)


def require_bars(definition: StrategyDefinition, what: str) -> None:
    """Validation and optimisation read the catalog's bars (screens, stress scenarios, period
    splits): a version on ticks would be judged on data it does not run on."""
    if definition.market_data is not MarketData.BARS:
        raise InvalidInputError(
            f"{definition.ref} runs on {definition.market_data.value}: {what} works on "
            "versions on bars only for now",
            hint="backtest it directly (quantdesk backtest run), or register a version on bars",
        )


def tick_spans(
    plan: RunPlan, ticks: TickCatalog | None, start_ns: int | None, end_ns: int | None
) -> list[tuple[int, int]]:
    """Per tick feed, the first and last timestamp the run will read (refused when none)."""
    feeds = plan.tick_feeds
    if not feeds:
        return []
    if ticks is None:
        raise InvalidInputError(
            "this desk has no tick catalog to stream ticks from",
            hint="open the desk on its catalog",
        )
    spans = []
    for instrument_id, market_data in feeds.items():
        _check_venue(plan, instrument_id, market_data)
        kind = TICK_KINDS[market_data]
        noun = kind.long_noun
        start = start_ns if start_ns is not None else _WHOLE[0]
        end = end_ns if end_ns is not None else _WHOLE[1]
        count, first, last = ticks.tick_span(kind, instrument_id, start, end)
        if count == 0:
            held, held_first, held_last = ticks.tick_span(kind, instrument_id, *_WHOLE)
            hint = (
                f"the catalog holds {held:,} {noun} of {instrument_id} from "
                f"{ns_to_text(held_first)} to {ns_to_text(held_last)}"
                if held
                else f"ingest them: `quantdesk data ingest {market_data.value}`"
            )
            where = (
                ""
                if start_ns is None and end_ns is None
                else f" between {ns_to_text(start)} and {ns_to_text(end)}"
            )
            raise InvalidInputError(
                f"no {noun} for {instrument_id} in the catalog{where}: a run on "
                f"{market_data.value} would stream nothing",
                hint=hint,
            )
        spans.append((first, last))
    return spans


def _check_venue(plan: RunPlan, instrument_id: str, market_data: MarketData) -> None:
    """Venue options made for bars would be ignored on ticks: refused, not dropped."""
    venue = plan.venue_of(instrument_id)
    if venue.fill_at != "close":
        raise InvalidInputError(
            f"venue {venue.name} fills at {venue.fill_at}, but {instrument_id} runs on "
            f"{market_data.value}: orders fill against the ticks as they come",
            hint="leave fill_at at close for a run on ticks or the book",
        )
    if venue.bar_spread is not None:
        raise InvalidInputError(
            f"bar_spread {venue.bar_spread} is set for venue {venue.name}, but {instrument_id} "
            f"runs on {market_data.value}, which has its own prices",
            hint="a spread only applies to BID or ASK bars: leave it unset",
        )


def tick_data_used(
    plan: RunPlan, ticks: TickCatalog | None, sources: Mapping[str, set[str]]
) -> list[DataUsed]:
    """Per tick feed of a pinned plan: its span in the run, the files read and their sources
    (``sources``: a file's checksum -> the checksums of the sources its lineage names)."""
    start_ns, end_ns = plan.start_ns, plan.end_ns
    assert start_ns is not None and end_ns is not None
    used = []
    for instrument_id, market_data in plan.tick_feeds.items():
        assert ticks is not None  # pinned: tick_spans checked it
        kind = TICK_KINDS[market_data]
        count, first, last = ticks.tick_span(kind, instrument_id, start_ns, end_ns)
        files = ticks.tick_files(kind, instrument_id, start_ns, end_ns)
        used.append(
            DataUsed(
                bar_type=instrument_id,
                data_type=kind.value,
                first_ts=first,
                last_ts=last,
                bars=count,
                file_sha256=[f.sha256 for f in files],
                source_sha256=sorted({s for f in files for s in sources.get(f.sha256, ())}),
            )
        )
    return used
