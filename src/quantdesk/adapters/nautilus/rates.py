"""Conversion rates in the engine: the same rate at each instant as quantdesk's curve uses.

NautilusTrader 1.221.0's ``AccountsManager`` converts a fill's PnL and commission into a
single-currency account's base with ``Cache.get_xrate``, which reads only quote ticks (or a
BID and an ASK bar) of ``CurrencyPair`` instruments at the fill's venue; mark xrates
(``Cache.set_mark_xrate``) serve the portfolio alone. On bars alone it finds nothing: it logs
"Cannot calculate account state" and books no PnL at all. So :class:`RateFeed` quotes the
rate series into the cache: per rate series and venue converting through it, a
``CurrencyPair`` ``BASE/QUOTE-XRATE.VENUE`` that lives in the cache only (never at a venue,
never traded), whose quote (bid = ask = the pair's bar close) is set by a time alert 1 ns
before each rate bar's close (each bar whose close differs from the one before). The
engine handles alerts before any data of a later instant, so every fill at or after a bar's
close, whether taken on that instant's bars or matched by the venue while processing them,
is converted at that bar's close: the last rate at or before the fill, which is the curve's
definition (:mod:`quantdesk.domain.conversion`).

:class:`RateBook` holds the same rates for quantdesk's own actors (margin check, recorder,
risk gate): an instrument's quote-to-base rate now, or None before its series' first bar.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from nautilus_trader.common.actor import Actor
from nautilus_trader.common.events import TimeEvent
from nautilus_trader.config import ActorConfig
from nautilus_trader.model.data import QuoteTick
from nautilus_trader.model.identifiers import InstrumentId, Symbol
from nautilus_trader.model.instruments import CurrencyPair
from nautilus_trader.model.objects import Currency, Price, Quantity

from quantdesk.adapters.nautilus.catalog import ParquetCatalog
from quantdesk.domain.backtest_plan import RunPlan, instrument_of
from quantdesk.domain.conversion import RateSource
from quantdesk.services.columns import Float64Array, Int64Array

XRATE_SUFFIX = "-XRATE"


@dataclass(frozen=True, eq=False)
class RateTape:
    """One rate series as the engine replays it: the pair's closes at their bar times."""

    source: RateSource
    pair_base: str  # the pair's own base and quote currency (its closes are quote per base)
    pair_quote: str
    price_precision: int
    ts_ns: Int64Array
    close: Float64Array
    venues: tuple[str, ...]  # where instruments converted by it trade


class RateBook:
    """Each instrument's rate into its venue's base currency at the engine's current instant
    (1.0 for one booked in the base currency; None before its series' first bar)."""

    def __init__(self, converted: dict[str, str]) -> None:
        self._currency_of = {InstrumentId.from_str(i): c for i, c in converted.items()}
        self._now: dict[str, float] = {}

    def set(self, currency: str, rate: float) -> None:
        self._now[currency] = rate

    def rate(self, instrument_id: InstrumentId) -> float | None:
        currency = self._currency_of.get(instrument_id)
        return 1.0 if currency is None else self._now.get(currency)

    def of_currency(self, currency: str) -> float | None:
        return self._now.get(currency)


class RateFeedConfig(ActorConfig, frozen=True, kw_only=True):
    pass


class RateFeed(Actor):
    """Quotes each rate tape into the cache (and the book) as the run's time reaches it."""

    def __init__(self, config: RateFeedConfig, tapes: list[RateTape], book: RateBook) -> None:
        super().__init__(config)
        self._tapes = tapes
        self._book = book
        self._pairs: list[list[InstrumentId]] = []
        # per tape, the rows where its close changes: their times and closes as Python numbers
        # (read once at start, not a numpy scalar per alert), and one alert callback per tape
        self._stamps: list[list[int]] = []
        self._closes: list[list[float]] = []
        self._callbacks: list[Callable[[TimeEvent], None]] = []
        self._next = [0] * len(tapes)
        self._size = Quantity.from_int(1)

    def on_start(self) -> None:
        now = self.clock.timestamp_ns()
        self._pairs = [self._add_pairs(tape, now) for tape in self._tapes]
        for index, tape in enumerate(self._tapes):
            # an unchanged close needs no new quote: the rate at or before is the same
            changed = np.ones(len(tape.close), dtype=np.bool_)
            changed[1:] = tape.close[1:] != tape.close[:-1]
            rows = np.flatnonzero(changed)
            due = int(np.searchsorted(tape.ts_ns[rows], now + 1, side="right"))  # ts - 1 <= now
            self._stamps.append(tape.ts_ns[rows].tolist())
            self._closes.append(tape.close[rows].tolist())
            self._callbacks.append(self._callback(index))
            self._next[index] = max(due - 1, 0)
            if due:
                self._apply(index)
            self._schedule(index)

    def _add_pairs(self, tape: RateTape, now: int) -> list[InstrumentId]:
        base, quote = Currency.from_str(tape.pair_base), Currency.from_str(tape.pair_quote)
        symbol = f"{tape.pair_base}/{tape.pair_quote}{XRATE_SUFFIX}"
        ids = []
        for venue in tape.venues:
            instrument_id = InstrumentId.from_str(f"{symbol}.{venue}")
            increment = Price(10.0**-tape.price_precision, tape.price_precision)
            self.cache.add_instrument(
                CurrencyPair(
                    instrument_id=instrument_id,
                    raw_symbol=Symbol(symbol),
                    base_currency=base,
                    quote_currency=quote,
                    price_precision=tape.price_precision,
                    size_precision=0,
                    price_increment=increment,
                    size_increment=Quantity.from_int(1),
                    ts_event=now,
                    ts_init=now,
                )
            )
            ids.append(instrument_id)
        return ids

    def _schedule(self, index: int) -> None:
        position = self._next[index]
        stamps = self._stamps[index]
        if position >= len(stamps):
            return
        self.clock.set_time_alert_ns(
            f"quantdesk-rate-{index}-{position}", stamps[position] - 1, self._callbacks[index]
        )

    def _callback(self, index: int) -> Callable[[TimeEvent], None]:
        def on_alert(_: TimeEvent) -> None:
            self._on_alert(index)

        return on_alert

    def _on_alert(self, index: int) -> None:
        self._apply(index)
        self._schedule(index)

    def _apply(self, index: int) -> None:
        """The tape's next changed close becomes the quote (and the book's rate)."""
        tape = self._tapes[index]
        position = self._next[index]
        self._next[index] = position + 1
        close = self._closes[index][position]
        ts = self._stamps[index][position]
        price = Price(close, tape.price_precision)
        size = self._size
        for instrument_id in self._pairs[index]:
            self.cache.add_quote_tick(
                QuoteTick(
                    instrument_id=instrument_id,
                    bid_price=price,
                    ask_price=price,
                    bid_size=size,
                    ask_size=size,
                    ts_event=ts,
                    ts_init=ts,
                )
            )
        source = tape.source
        self._book.set(source.currency, 1.0 / close if source.inverted else close)


def rate_tapes(plan: RunPlan, catalog: ParquetCatalog) -> list[RateTape]:
    """The plan's rate series read from the catalog over the run's range."""
    start, end = plan.start_ns, plan.end_ns
    assert start is not None and end is not None
    tapes = []
    for source in plan.rates:
        pair = catalog.instrument(instrument_of(source.bar_type))
        assert pair is not None and pair.base_currency is not None  # found by discovery
        ts, close = catalog.read_closes(source.bar_type, start, end)
        tapes.append(
            RateTape(
                source=source,
                pair_base=pair.base_currency,
                pair_quote=pair.currency,
                price_precision=pair.price_precision,
                ts_ns=ts,
                close=close,
                venues=tuple(sorted({i.rsplit(".", 1)[1] for i in source.instruments})),
            )
        )
    return tapes


def join_rate_feed(engine: Any, plan: RunPlan, catalog: ParquetCatalog) -> RateBook:
    """The feed on a built engine (before the actors that read its book)."""
    book = RateBook({i: s.currency for s in plan.rates for i in s.instruments})
    if plan.rates:
        tapes = rate_tapes(plan, catalog)
        engine.add_actor(RateFeed(RateFeedConfig(component_id="QuantdeskRateFeed"), tapes, book))
    return book
