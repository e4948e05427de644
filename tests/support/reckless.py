"""A deliberately reckless strategy for risk tests: random sides and sizes on every bar."""

import random
from decimal import Decimal

from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.identifiers import InstrumentId

from quantdesk.strategies.base import QuantdeskStrategy, QuantdeskStrategyConfig


class RecklessConfig(QuantdeskStrategyConfig, frozen=True, kw_only=True):
    instrument_id: InstrumentId
    bar_type: BarType
    seed: int = 0
    max_size: int = 1_000
    every: int = 1
    burst: int = 1
    """Orders per decision, all of one side and size (as a flip or a rebalance sends them)."""


class Reckless(QuantdeskStrategy):
    def __init__(self, config: RecklessConfig) -> None:
        super().__init__(config)
        self._config = config
        self._random = random.Random(config.seed)
        self._bars = 0

    def on_start(self) -> None:
        super().on_start()
        self.subscribe_bars(self._config.bar_type)

    def on_bar(self, bar: Bar) -> None:
        self._bars += 1
        if self._bars % self._config.every:
            return
        instrument = self.cache.instrument(self._config.instrument_id)
        side = OrderSide.BUY if self._random.random() < 0.5 else OrderSide.SELL
        size = Decimal(self._random.randint(1, self._config.max_size))
        for _ in range(self._config.burst):
            self.submit(
                self.order_factory.market(
                    instrument_id=self._config.instrument_id,
                    order_side=side,
                    quantity=instrument.make_qty(size),
                )
            )

    def stop_trading_instruments(self) -> list[InstrumentId]:
        return [self._config.instrument_id]
