"""Sentiment reaction: trade strong, confident news sentiment and hold it for a while.

The registry's model (``SentimentReactionParameters``), per instrument of the definition,
on ``SENTIMENT`` signals about it; a signal below ``min_confidence`` is ignored whatever
its score:

- ``|score| >= entry_threshold`` opens: long ``trade_size`` on a positive score, short on a
  negative one. A signal in the direction already held re-arms the holding period; one
  against it closes the position (one order) and opens the other side (a second order).
- ``|score| <= exit_threshold`` closes an open position;
- scores in between change nothing;
- ``max_holding_bars`` bars of the instrument after the last entry (or re-arm) without a
  closing signal, the position is closed at that bar.

Every order carries the id of the signal it was taken on; the time-out exit carries the
signal that opened or last re-armed the position, so every fill traces back to a signal.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar

from nautilus_trader.model.data import Bar
from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.identifiers import InstrumentId

from quantdesk.domain.signals import AISignal, SentimentValue
from quantdesk.domain.strategies.families import SentimentReactionParameters
from quantdesk.strategies.base import FamilyConfig, FamilyStrategy, family_parameters


class SentimentReactionConfig(FamilyConfig, frozen=True, kw_only=True):
    entry_threshold: float = 0.5
    exit_threshold: float = 0.1
    min_confidence: float = 0.6
    max_holding_bars: int = 60
    trade_size: Decimal


def sentiment_target(score: float, entry_threshold: float, exit_threshold: float) -> int | None:
    """+1 (be long), -1 (be short), 0 (be flat) or None (no change) for one score."""
    if abs(score) >= entry_threshold:
        return 1 if score > 0 else -1
    if abs(score) <= exit_threshold:
        return 0
    return None


@dataclass
class _Holding:
    """The signal an instrument's position was opened (or last re-armed) on, and its age."""

    signal_id: str
    bars: int = 0


class SentimentReaction(FamilyStrategy):
    required_signal_types: ClassVar[frozenset[str]] = frozenset({"SENTIMENT"})
    quantity_parameters: ClassVar[frozenset[str]] = frozenset({"trade_size"})

    def __init__(self, config: SentimentReactionConfig) -> None:
        family_parameters(SentimentReactionParameters, config, "exit_threshold")
        super().__init__(config)
        self._entry = config.entry_threshold
        self._exit = config.exit_threshold
        self._min_confidence = config.min_confidence
        self._max_holding = config.max_holding_bars
        self._holding: dict[InstrumentId, _Holding] = {}

    def on_start(self) -> None:
        super().on_start()
        self.subscribe_all_bars()

    def on_signal(self, signal: AISignal) -> None:
        if not isinstance(signal.value, SentimentValue):
            return
        if signal.confidence < self._min_confidence or not self.may_trade(signal.ts_init):
            return
        target = sentiment_target(signal.value.score, self._entry, self._exit)
        if target is None:
            return
        iid = InstrumentId.from_str(signal.instrument_id)
        net = self.net_position(iid)
        held = (net > 0) - (net < 0)
        if target == 0:
            if held != 0:
                self.flatten(iid, signal.signal_id)
            self._holding.pop(iid, None)
            return
        if held == target:
            self._holding[iid] = _Holding(signal.signal_id)  # re-armed
            return
        if held != 0:
            self.flatten(iid, signal.signal_id)
        side = OrderSide.BUY if target > 0 else OrderSide.SELL
        if self._submit_market(iid, side, self.quantity(iid), signal.signal_id):
            self._holding[iid] = _Holding(signal.signal_id)
        else:
            self._holding.pop(iid, None)

    def on_bar(self, bar: Bar) -> None:
        iid = self.instrument_of.get(bar.bar_type)
        holding = None if iid is None else self._holding.get(iid)
        if iid is None or holding is None:
            return
        holding.bars += 1
        if holding.bars >= self._max_holding and self.may_trade(bar.ts_event):
            self.flatten(iid, holding.signal_id)
            del self._holding[iid]

    def on_reset(self) -> None:
        self._holding.clear()
