"""The base every quantdesk strategy stands on: one door for orders, common lifecycle.

Family strategies never call ``submit_order`` themselves; they call :meth:`submit`, the one
place where the portfolio risk gate will stand, so no order can go around it.
"""

from nautilus_trader.config import StrategyConfig
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.orders import Order
from nautilus_trader.trading.strategy import Strategy


class QuantdeskStrategyConfig(StrategyConfig, frozen=True, kw_only=True):
    """Settings every quantdesk strategy understands.

    ``trade_until_ns``: no new orders from this time on (lets a run end flat on its own
    terms); ``flat_at_stop``: close open positions when the strategy stops.
    """

    trade_until_ns: int | None = None
    flat_at_stop: bool = False


class QuantdeskStrategy(Strategy):
    def __init__(self, config: QuantdeskStrategyConfig) -> None:
        super().__init__(config)
        self._trade_until_ns = config.trade_until_ns
        self._flat_at_stop = config.flat_at_stop

    def may_trade(self, ts_ns: int) -> bool:
        return self._trade_until_ns is None or ts_ns < self._trade_until_ns

    def submit(self, order: Order) -> None:
        """Every order of every family goes out here."""
        self.submit_order(order)

    def flatten(self, instrument_id: InstrumentId) -> None:
        self.close_all_positions(instrument_id)

    def stop_trading_instruments(self) -> list[InstrumentId]:
        """Instruments to flatten at stop; families override when they trade several."""
        return []

    def on_stop(self) -> None:
        if self._flat_at_stop:
            for instrument_id in self.stop_trading_instruments():
                self.cancel_all_orders(instrument_id)
                self.flatten(instrument_id)
