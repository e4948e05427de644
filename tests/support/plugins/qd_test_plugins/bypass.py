"""Plug-ins that place orders past quantdesk's risk gate (validation must refuse them).

``Direct`` calls ``submit_order`` itself; ``Flattener`` inherits ``close_all_positions`` from
a base of its own below ``QuantdeskStrategy``; ``Plain`` is a NautilusTrader ``Strategy``
that is no ``QuantdeskStrategy`` at all. Each would trade if run.
"""

from decimal import Decimal

from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.trading.strategy import Strategy

from quantdesk.strategies.base import QuantdeskStrategy, QuantdeskStrategyConfig


class BypassConfig(QuantdeskStrategyConfig, frozen=True, kw_only=True):
    instrument_id: InstrumentId
    bar_type: BarType


class Direct(QuantdeskStrategy):
    def __init__(self, config: BypassConfig) -> None:
        super().__init__(config)
        self._config = config

    def on_start(self) -> None:
        super().on_start()
        self.subscribe_bars(self._config.bar_type)

    def on_bar(self, bar: Bar) -> None:
        instrument = self.cache.instrument(self._config.instrument_id)
        order = self.order_factory.market(
            instrument_id=self._config.instrument_id,
            order_side=OrderSide.BUY,
            quantity=instrument.make_qty(Decimal(1)),
        )
        self.submit_order(order)  # the bypass: no gate decided on it


class _Closer(QuantdeskStrategy):
    def on_stop(self) -> None:
        self.close_all_positions(self._config.instrument_id)  # type: ignore[attr-defined]


class Flattener(_Closer):
    def __init__(self, config: BypassConfig) -> None:
        super().__init__(config)
        self._config = config


class Plain(Strategy):
    def __init__(self, config: BypassConfig) -> None:
        super().__init__(config)
