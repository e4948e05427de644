"""A strategy that only watches: what it was handed, when, and what it had seen before.

Observations go to ``SEEN`` (strategy id -> events) in this process, for the replay tests.
"""

from nautilus_trader.model.data import Bar, BarType

from quantdesk.domain.signals import AISignal
from quantdesk.strategies.base import QuantdeskStrategy, QuantdeskStrategyConfig

# (kind, ts_init of the item, clock at delivery, bars seen before it, signal id)
Event = tuple[str, int, int, int, str]
SEEN: dict[str, list[Event]] = {}


class SignalProbeConfig(QuantdeskStrategyConfig, frozen=True, kw_only=True):
    bar_types: list[BarType]


class SignalProbe(QuantdeskStrategy):
    def __init__(self, config: SignalProbeConfig) -> None:
        super().__init__(config)
        self._bar_types = config.bar_types
        self._bars = 0

    def on_start(self) -> None:
        super().on_start()
        SEEN[str(self.id)] = []
        for bar_type in self._bar_types:
            self.subscribe_bars(bar_type)

    def on_bar(self, bar: Bar) -> None:
        SEEN[str(self.id)].append(("bar", bar.ts_init, self.clock.timestamp_ns(), self._bars, ""))
        self._bars += 1

    def on_signal(self, signal: AISignal) -> None:
        SEEN[str(self.id)].append(
            ("signal", signal.ts_init, self.clock.timestamp_ns(), self._bars, signal.signal_id)
        )
