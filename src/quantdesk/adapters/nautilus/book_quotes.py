"""An actor turning an L2 book into quotes, so bars can be built from the book.

The engine builds BID, ASK and MID bars from quote ticks only, and a run on book deltas has
none: this actor keeps the data engine's managed book of each instrument (subscribing to
its deltas) and, after each complete book event (a delta flagged ``F_LAST``, the end of a
batch), sends the top of the book to the data engine as a quote when it changed. The data
engine caches it (the risk engine prices orders with it) and publishes it to the bar
aggregators; the venue never sees these quotes: it fills against the book itself.

The flag is tested bitwise, so a snapshot's last delta (``F_SNAPSHOT | F_LAST``) ends an
event too (the engine's own batching wants ``F_LAST`` exactly, nautilus-notes §1). Deltas
with no ``F_LAST`` at all make no quotes and no bars: the run's result warns.
"""

from nautilus_trader.common.actor import Actor
from nautilus_trader.config import ActorConfig
from nautilus_trader.model.data import OrderBookDeltas
from nautilus_trader.model.enums import BookType, RecordFlag
from nautilus_trader.model.identifiers import InstrumentId

_F_LAST = int(RecordFlag.F_LAST)


class BookQuotesConfig(ActorConfig, frozen=True, kw_only=True):
    instrument_ids: list[str]


class BookQuotes(Actor):
    def __init__(self, config: BookQuotesConfig) -> None:
        super().__init__(config)
        self._instruments = [InstrumentId.from_str(i) for i in config.instrument_ids]
        self._last: dict[InstrumentId, tuple[int, int, int, int]] = {}

    def on_start(self) -> None:
        for instrument_id in self._instruments:
            self.subscribe_order_book_deltas(instrument_id, BookType.L2_MBP, managed=True)

    def on_order_book_deltas(self, deltas: OrderBookDeltas) -> None:
        last = deltas.deltas[-1]
        if not int(last.flags) & _F_LAST:
            return  # inside an event: the book may be half built (cleared, refilling)
        book = self.cache.order_book(deltas.instrument_id)
        quote = None if book is None else book.to_quote_tick()
        if quote is None:
            return
        top = (
            quote.bid_price.raw,
            quote.ask_price.raw,
            quote.bid_size.raw,
            quote.ask_size.raw,
        )
        if self._last.get(deltas.instrument_id) == top:
            return
        self._last[deltas.instrument_id] = top
        self.msgbus.send(endpoint="DataEngine.process", msg=quote)  # stamped at the book's last

    def on_reset(self) -> None:
        self._last.clear()
