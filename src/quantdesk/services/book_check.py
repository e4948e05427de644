"""An L2 book kept only to see whether it crosses: after each event, is best bid >= best ask?

A crossed book is reported, not rejected: venues do print them (auctions, feed gaps), and a
backtest should see what the venue sent. The check starts from an empty book at the file's
first row, so a file of updates without a snapshot can warn about levels it never saw
deleted; the warning says which prices crossed, for a reader to judge.
"""

import heapq
from dataclasses import dataclass, field

import numpy as np

from quantdesk.domain.ticks import BookAction, BookSide, TickWarning, TickWarningKind
from quantdesk.services.columns import Float64Array, Int64Array
from quantdesk.services.tick_columns import AnyArray


@dataclass
class CrossedBookCheck:
    """Levels by price per side, with lazily cleaned heaps for the best prices.

    Carries over from one chunk to the next; an event (the deltas of one timestamp) is
    judged when the next one starts, or at ``finish``.
    """

    bids: dict[float, float] = field(default_factory=dict)
    asks: dict[float, float] = field(default_factory=dict)
    _bid_heap: list[float] = field(default_factory=list)  # negated prices
    _ask_heap: list[float] = field(default_factory=list)
    _event_ts: int | None = None
    _event_row: int = 0

    def apply(
        self,
        ts_ns: Int64Array,
        rows: Int64Array,
        action: AnyArray,
        side: AnyArray,
        price: Float64Array,
        size: Float64Array,
    ) -> list[TickWarning]:
        """Apply deltas in order; the warnings of every event that ended among them."""
        warnings: list[TickWarning] = []
        for ts, row, act, sd, px, qty in zip(
            ts_ns.tolist(),
            rows.tolist(),
            action.tolist(),
            side.tolist(),
            price.tolist(),
            size.tolist(),
            strict=True,
        ):
            if ts != self._event_ts:
                self._judge(warnings)
                self._event_ts = ts
            self._event_row = row
            self._apply_one(act, sd, px, qty)
        return warnings

    def finish(self) -> list[TickWarning]:
        """Judge the last event (the file ended)."""
        warnings: list[TickWarning] = []
        self._judge(warnings)
        self._event_ts = None
        return warnings

    def _apply_one(self, action: int, side: int, price: float, size: float) -> None:
        if action == BookAction.CLEAR:
            self.bids.clear()
            self.asks.clear()
            self._bid_heap.clear()
            self._ask_heap.clear()
            return
        levels = self.bids if side == BookSide.BUY else self.asks
        if action == BookAction.DELETE or size <= 0:
            levels.pop(price, None)
            return
        if price not in levels:
            heap = self._bid_heap if side == BookSide.BUY else self._ask_heap
            heapq.heappush(heap, -price if side == BookSide.BUY else price)
        levels[price] = size

    def best(self) -> tuple[float | None, float | None]:
        while self._bid_heap and -self._bid_heap[0] not in self.bids:
            heapq.heappop(self._bid_heap)
        while self._ask_heap and self._ask_heap[0] not in self.asks:
            heapq.heappop(self._ask_heap)
        bid = -self._bid_heap[0] if self._bid_heap else None
        ask = self._ask_heap[0] if self._ask_heap else None
        return bid, ask

    def _judge(self, warnings: list[TickWarning]) -> None:
        if self._event_ts is None:
            return
        bid, ask = self.best()
        if bid is not None and ask is not None and bid >= ask:
            warnings.append(
                TickWarning(
                    row=self._event_row,
                    ts=self._event_ts,
                    kind=TickWarningKind.CROSSED_BOOK,
                    detail=f"after this event the best bid {bid!r} >= the best ask {ask!r}",
                )
            )


def crossed_quotes(
    ts_ns: Int64Array, rows: Int64Array, bid: Float64Array, ask: Float64Array
) -> list[TickWarning]:
    """Quotes whose bid is above their ask (a locked quote, bid == ask, is not crossed)."""
    return [
        TickWarning(
            row=int(rows[i]),
            ts=int(ts_ns[i]),
            kind=TickWarningKind.CROSSED_QUOTE,
            detail=f"bid {float(bid[i])!r} > ask {float(ask[i])!r}",
        )
        for i in np.flatnonzero(bid > ask).tolist()
    ]
