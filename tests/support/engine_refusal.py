"""A strategy whose first bar asks the engine for a quantity it refuses (``ValueError``):
what a plug-in can still do after every check before the run has passed."""

from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.objects import Quantity

from quantdesk.strategies.base import QuantdeskStrategy, QuantdeskStrategyConfig


class RefusedAtRunConfig(QuantdeskStrategyConfig, frozen=True, kw_only=True):
    instrument_id: InstrumentId
    bar_type: BarType


class RefusedAtRun(QuantdeskStrategy):
    def __init__(self, config: RefusedAtRunConfig) -> None:
        super().__init__(config)
        self._bar_type = config.bar_type

    def on_start(self) -> None:
        super().on_start()
        self.subscribe_bars(self._bar_type)

    def on_bar(self, bar: Bar) -> None:
        Quantity.from_str("-1")  # the engine: "not a positive real" (ValueError)
