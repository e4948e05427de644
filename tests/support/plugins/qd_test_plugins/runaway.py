"""A plug-in that never returns from its first bar (the smoke run's time limit must end it)."""

from nautilus_trader.model.data import Bar, BarType

from quantdesk.strategies.base import QuantdeskStrategy, QuantdeskStrategyConfig


class RunawayConfig(QuantdeskStrategyConfig, frozen=True, kw_only=True):
    bar_type: BarType


class Runaway(QuantdeskStrategy):
    def __init__(self, config: RunawayConfig) -> None:
        super().__init__(config)
        self._bar_type = config.bar_type

    def on_start(self) -> None:
        super().on_start()
        self.subscribe_bars(self._bar_type)

    def on_bar(self, bar: Bar) -> None:
        while True:  # a bug, or worse: the desk must not wait for it
            pass
