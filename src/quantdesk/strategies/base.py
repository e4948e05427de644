"""The base every quantdesk strategy stands on: one door for orders, common lifecycle.

Family strategies never call ``submit_order`` themselves; they call :meth:`submit`, which
asks the portfolio risk layer first (through the engine's message bus, so backtest and live
take the same path). No answer means no risk layer: the order is denied (fail closed).
"""

from decimal import Decimal

from nautilus_trader.config import StrategyConfig
from nautilus_trader.model.enums import OrderSide, OrderType
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.orders import Order
from nautilus_trader.trading.strategy import Strategy

from quantdesk.domain.risk import FLATTEN_TOPIC, GATE_ENDPOINT, GateRequest, RiskAction


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
        self.orders_denied = 0

    def on_start(self) -> None:
        self.msgbus.subscribe(topic=FLATTEN_TOPIC, handler=self._on_flatten_request)

    def may_trade(self, ts_ns: int) -> bool:
        return self._trade_until_ns is None or ts_ns < self._trade_until_ns

    def submit(self, order: Order) -> bool:
        """Every order of every family goes out here, through the risk gate; True if sent."""
        request = GateRequest(
            strategy_id=str(self.id),
            instrument_id=str(order.instrument_id),
            side=1 if order.side == OrderSide.BUY else -1,
            quantity=order.quantity.as_decimal(),
            limit_price=order.price.as_decimal() if order.has_price else None,
        )
        self.msgbus.send(endpoint=GATE_ENDPOINT, msg=request)
        decision = request.decision
        if decision is None or decision.action is RiskAction.DENY:
            self.orders_denied += 1
            return False
        if decision.action is RiskAction.REDUCE:
            if order.order_type != OrderType.MARKET:
                self.orders_denied += 1
                return False
            order = self.order_factory.market(
                instrument_id=order.instrument_id,
                order_side=order.side,
                quantity=self.cache.instrument(order.instrument_id).make_qty(decision.quantity),
                time_in_force=order.time_in_force,
            )
        self.submit_order(order)
        return True

    def flatten(self, instrument_id: InstrumentId) -> None:
        """Close this strategy's position in the instrument with a market order, gated too."""
        net = Decimal(0)
        for position in self.cache.positions_open(instrument_id=instrument_id, strategy_id=self.id):
            net += position.signed_decimal_qty()
        if net == 0:
            return
        instrument = self.cache.instrument(instrument_id)
        self.submit(
            self.order_factory.market(
                instrument_id=instrument_id,
                order_side=OrderSide.SELL if net > 0 else OrderSide.BUY,
                quantity=instrument.make_qty(abs(net)),
                reduce_only=True,
            )
        )

    def stop_trading_instruments(self) -> list[InstrumentId]:
        """Instruments to flatten at stop; families override when they trade several."""
        return []

    def _on_flatten_request(self, scope: str) -> None:
        """The risk layer asks scopes that breached to get flat (``flatten_on_breach``)."""
        if scope in ("portfolio", str(self.id)):
            for instrument_id in self.stop_trading_instruments():
                self.cancel_all_orders(instrument_id)
                self.flatten(instrument_id)

    def on_stop(self) -> None:
        if self._flat_at_stop:
            for instrument_id in self.stop_trading_instruments():
                self.cancel_all_orders(instrument_id)
                self.flatten(instrument_id)
