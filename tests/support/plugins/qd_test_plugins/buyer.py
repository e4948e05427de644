"""A real plug-in strategy: buys once, on its fifth bar, through quantdesk's risk gate."""

from decimal import Decimal

from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.identifiers import InstrumentId

from quantdesk.strategies.base import QuantdeskStrategy, QuantdeskStrategyConfig


class BuyerConfig(QuantdeskStrategyConfig, frozen=True, kw_only=True):
    instrument_id: InstrumentId
    bar_type: BarType
    quantity: int = 10


class Buyer(QuantdeskStrategy):
    def __init__(self, config: BuyerConfig) -> None:
        super().__init__(config)
        self._config = config
        self._bars = 0

    def on_start(self) -> None:
        super().on_start()
        self.subscribe_bars(self._config.bar_type)

    def on_bar(self, bar: Bar) -> None:
        self._bars += 1
        if self._bars != 5:
            return
        instrument = self.cache.instrument(self._config.instrument_id)
        self.submit(
            self.order_factory.market(
                instrument_id=self._config.instrument_id,
                order_side=OrderSide.BUY,
                quantity=instrument.make_qty(Decimal(self._config.quantity)),
            )
        )

    def stop_trading_instruments(self) -> list[InstrumentId]:
        return [self._config.instrument_id]
