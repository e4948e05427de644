"""React to news sentiment: long on good news, short (or out) on bad news, for N bars.

A ``SENTIMENT`` signal about the instrument with ``score >= threshold`` (and confidence at
least ``min_confidence``) makes the strategy long ``trade_size``; ``score <= -threshold``
makes it short, or flat when ``long_only``. A signal in the direction already held re-arms
the holding period; one against it closes the position and opens the other side. After
``hold_bars`` bars without a fresh signal the position is closed.

Every order carries the id of the signal it was taken on (the exit: the signal that armed
the holding period), so a run traces each fill back to a signal.
"""

from decimal import Decimal
from typing import ClassVar

from nautilus_trader.config import PositiveFloat, PositiveInt
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.objects import Quantity

from quantdesk.domain.backtest_checks import ParameterValueError
from quantdesk.domain.signals import AISignal, SentimentValue
from quantdesk.strategies.base import QuantdeskStrategy, QuantdeskStrategyConfig


class SentimentReactionConfig(QuantdeskStrategyConfig, frozen=True, kw_only=True):
    instrument_id: InstrumentId
    bar_type: BarType
    trade_size: Decimal = Decimal(100)
    threshold: PositiveFloat = 0.3
    hold_bars: PositiveInt = 30
    min_confidence: float = 0.0
    long_only: bool = False


class SentimentReaction(QuantdeskStrategy):
    required_signal_types: ClassVar[frozenset[str]] = frozenset({"SENTIMENT"})
    quantity_parameters: ClassVar[frozenset[str]] = frozenset({"trade_size"})

    def __init__(self, config: SentimentReactionConfig) -> None:
        if not 0.0 < config.threshold <= 1.0:
            raise ParameterValueError("threshold", "must lie in (0, 1]")
        if not 0.0 <= config.min_confidence <= 1.0:
            raise ParameterValueError("min_confidence", "must lie in [0, 1]")
        super().__init__(config)
        self._instrument_id = config.instrument_id
        self._bar_type = config.bar_type
        self._trade_size = config.trade_size
        self._threshold = config.threshold
        self._hold_bars = config.hold_bars
        self._min_confidence = config.min_confidence
        self._long_only = config.long_only
        self._quantity: Quantity | None = None
        self._bars_left = 0
        self._holding_signal: str | None = None

    def on_start(self) -> None:
        super().on_start()
        self._quantity = self._trade_quantity(self._instrument_id, self._trade_size)
        self.subscribe_bars(self._bar_type)

    def signal_instruments(self) -> frozenset[str]:
        return frozenset({self._instrument_id.value})

    def on_signal(self, signal: AISignal) -> None:
        if not isinstance(signal.value, SentimentValue):
            return
        if signal.confidence < self._min_confidence or not self.may_trade(signal.ts_init):
            return
        score = signal.value.score
        if score >= self._threshold:
            target = 1
        elif score <= -self._threshold:
            target = 0 if self._long_only else -1
        else:
            return
        iid = self._instrument_id
        held = 0
        if self.portfolio.is_net_long(iid):
            held = 1
        elif self.portfolio.is_net_short(iid):
            held = -1
        if held != target:
            if held != 0:
                self.flatten(iid, signal.signal_id)
            if target != 0:
                self._enter(OrderSide.BUY if target > 0 else OrderSide.SELL, signal.signal_id)
        if target != 0:
            self._bars_left = self._hold_bars
            self._holding_signal = signal.signal_id
        else:
            self._disarm()

    def on_bar(self, bar: Bar) -> None:
        if self._bars_left <= 0:
            return
        self._bars_left -= 1
        if self._bars_left == 0:
            self.flatten(self._instrument_id, self._holding_signal)
            self._disarm()

    def _enter(self, side: OrderSide, signal_id: str) -> None:
        assert self._quantity is not None  # set in on_start
        self._submit_market(self._instrument_id, side, self._quantity, signal_id)

    def _disarm(self) -> None:
        self._bars_left = 0
        self._holding_signal = None

    def stop_trading_instruments(self) -> list[InstrumentId]:
        return [self._instrument_id]

    def on_reset(self) -> None:
        self._disarm()
