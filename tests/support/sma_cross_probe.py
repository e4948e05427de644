"""An SMA cross written like backtesting.py's ``SmaCross`` example, for the fill-convention tests.

On the bar where the fast average crosses above the slow one (strictly, as
``backtesting.lib.crossover``) it closes any short and buys; crossing below, it closes any
long and sells (unless long only). Orders go through the gate (``_submit_market``/``flatten``).
"""

from decimal import Decimal

from nautilus_trader.indicators import SimpleMovingAverage
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.identifiers import InstrumentId

from quantdesk.strategies.base import QuantdeskStrategy, QuantdeskStrategyConfig


class SmaCrossProbeConfig(QuantdeskStrategyConfig, frozen=True, kw_only=True):
    instrument_id: InstrumentId
    bar_type: BarType
    fast: int = 10
    slow: int = 20
    trade_size: Decimal = Decimal(100)
    long_only: bool = False


class SmaCrossProbe(QuantdeskStrategy):
    def __init__(self, config: SmaCrossProbeConfig) -> None:
        super().__init__(config)
        self._iid = config.instrument_id
        self._bar_type = config.bar_type
        self._fast = SimpleMovingAverage(config.fast)
        self._slow = SimpleMovingAverage(config.slow)
        self._previous: tuple[float, float] | None = None

    def on_start(self) -> None:
        super().on_start()
        self.register_indicator_for_bars(self._bar_type, self._fast)
        self.register_indicator_for_bars(self._bar_type, self._slow)
        self.subscribe_bars(self._bar_type)

    def on_reset(self) -> None:
        self._fast.reset()
        self._slow.reset()
        self._previous = None

    def stop_trading_instruments(self) -> list[InstrumentId]:
        return [self._iid]

    def on_bar(self, bar: Bar) -> None:
        if not (self._fast.initialized and self._slow.initialized):
            return
        now = (self._fast.value, self._slow.value)
        before, self._previous = self._previous, now
        if before is None or not self.may_trade(bar.ts_init):
            return
        size = self.cache.instrument(self._iid).make_qty(self.config.trade_size)
        if before[0] < before[1] and now[0] > now[1]:
            self.flatten(self._iid)
            self._submit_market(self._iid, OrderSide.BUY, size)
        elif before[0] > before[1] and now[0] < now[1]:
            self.flatten(self._iid)
            if not self.config.long_only:
                self._submit_market(self._iid, OrderSide.SELL, size)
