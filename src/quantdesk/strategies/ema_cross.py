"""Trend following with an EMA cross: long when the fast average is above the slow one.

Long/short by default (short when fast <= slow); ``long_only`` stays flat instead of short.
A flip closes the position first and opens the new one with a second order, so every round
trip is its own position and per-trade statistics stay honest under NETTING.
"""

from decimal import Decimal
from typing import ClassVar

from nautilus_trader.config import PositiveInt
from nautilus_trader.indicators import ExponentialMovingAverage
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.objects import Quantity

from quantdesk.domain.backtest_checks import ParameterValueError
from quantdesk.strategies.base import QuantdeskStrategy, QuantdeskStrategyConfig


class EmaCrossConfig(QuantdeskStrategyConfig, frozen=True, kw_only=True):
    instrument_id: InstrumentId
    bar_type: BarType
    trade_size: Decimal = Decimal(100)
    fast: PositiveInt = 10
    slow: PositiveInt = 50
    long_only: bool = False


class EmaCross(QuantdeskStrategy):
    quantity_parameters: ClassVar[frozenset[str]] = frozenset({"trade_size"})

    def __init__(self, config: EmaCrossConfig) -> None:
        if config.fast >= config.slow:
            raise ParameterValueError("fast", f"must be shorter than slow ({config.slow})")
        super().__init__(config)
        self._instrument_id = config.instrument_id
        self._bar_type = config.bar_type
        self._long_only = config.long_only
        self._trade_size = config.trade_size
        self.fast_ema = ExponentialMovingAverage(config.fast)
        self.slow_ema = ExponentialMovingAverage(config.slow)
        self.warmup_bars = config.slow
        self._quantity: Quantity | None = None

    def on_start(self) -> None:
        super().on_start()
        self._quantity = self._trade_quantity(self._instrument_id, self._trade_size)
        self.register_indicator_for_bars(self._bar_type, self.fast_ema)
        self.register_indicator_for_bars(self._bar_type, self.slow_ema)
        self.subscribe_bars(self._bar_type)

    def on_bar(self, bar: Bar) -> None:
        # Called for every bar of a run: one portfolio query per bar where one decides.
        until = self._trade_until_ns
        if not self.indicators_initialized() or (until is not None and bar.ts_event >= until):
            return
        iid = self._instrument_id
        portfolio = self.portfolio
        if self.fast_ema.value > self.slow_ema.value:
            if not self._long_only and portfolio.is_net_short(iid):
                self.flatten(iid)
            if not portfolio.is_net_long(iid):
                self._enter(OrderSide.BUY)
        elif portfolio.is_net_long(iid):
            self.flatten(iid)
            if not self._long_only:
                self._enter(OrderSide.SELL)
        elif not self._long_only and portfolio.is_flat(iid):
            self._enter(OrderSide.SELL)

    def _enter(self, side: OrderSide) -> None:
        assert self._quantity is not None  # set in on_start
        self._submit_market(self._instrument_id, side, self._quantity)

    def signal_instruments(self) -> frozenset[str]:
        return frozenset({self._instrument_id.value})

    def stop_trading_instruments(self) -> list[InstrumentId]:
        return [self._instrument_id]

    def on_reset(self) -> None:
        self.fast_ema.reset()
        self.slow_ema.reset()
