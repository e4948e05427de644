"""Buying power on margin accounts: the check the engine's own risk engine skips.

NautilusTrader 1.221.0's ``RiskEngine`` returns early for margin accounts, and quantdesk's
instruments carry an initial margin of 0, so a 40,000 position could open on a 10,000 account
at leverage 1. :class:`MarginCheck` stands in front of the risk engine (it takes over the
``RiskEngine.execute`` endpoint and forwards what it lets through) and denies, with an
``OrderDenied`` the run counts like any engine denial, an order after which the margin of the
account's positions and pending orders would exceed its equity.

Margin of a position: its notional at the last bar close times a rate, the instrument's own
``margin_init`` when it sets one, else ``1 / leverage`` (the venue's leverage for the
instrument). Equity: the account's balance plus the open positions' unrealised PnL at those
closes. An order that does not add margin (closing, reducing) always passes.

Cash accounts: the engine prices no market order on bars alone, and a buy beyond the cash
ends the run with ``AccountBalanceNegative``; a buy is denied when it would cost (at the
last close plus a tick, with the taker fee, converted at the rate now) more than the cash
left after the buys pending.
"""

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from nautilus_trader.common.actor import Actor
from nautilus_trader.config import ActorConfig
from nautilus_trader.core.uuid import UUID4
from nautilus_trader.execution.messages import SubmitOrder
from nautilus_trader.model.data import BarType
from nautilus_trader.model.enums import OmsType, OrderSide, OrderStatus
from nautilus_trader.model.events import OrderDenied
from nautilus_trader.model.identifiers import InstrumentId, Venue
from nautilus_trader.model.instruments import Instrument
from nautilus_trader.model.objects import Price
from nautilus_trader.model.orders import Order

from quantdesk.adapters.nautilus.rates import RateBook

RISK_ENDPOINT = "RiskEngine.execute"
MARGIN_REASON = "INSUFFICIENT_MARGIN"
CASH_REASON = "INSUFFICIENT_CASH"


class MarginCheckConfig(ActorConfig, frozen=True, kw_only=True):
    pass


class MarginCheck(Actor):
    def __init__(
        self,
        config: MarginCheckConfig,
        forward: Callable[[Any], None],
        bar_types: dict[str, str],
        oms_types: dict[str, OmsType],
        taker_fees: dict[str, Decimal | None] | None = None,
        rates: RateBook | None = None,
    ) -> None:
        super().__init__(config)
        self._book = rates if rates is not None else RateBook({})  # {}: all at 1.0
        self._forward = forward
        self._bar_types = {
            InstrumentId.from_str(i): BarType.from_str(b) for i, b in bar_types.items()
        }
        self._hedging = {v for v, oms in oms_types.items() if oms == OmsType.HEDGING}
        self._rates: dict[InstrumentId, Decimal] = {}
        self._taker_fees = taker_fees or {}

    def on_start(self) -> None:
        self.msgbus.deregister(endpoint=RISK_ENDPOINT, handler=self._forward)
        self.msgbus.register(endpoint=RISK_ENDPOINT, handler=self._execute)

    def on_stop(self) -> None:
        self.msgbus.deregister(endpoint=RISK_ENDPOINT, handler=self._execute)
        self.msgbus.register(endpoint=RISK_ENDPOINT, handler=self._forward)

    def _execute(self, command: Any) -> None:
        if isinstance(command, SubmitOrder):
            reason = self.refusal(command.order)
            if reason is not None:
                self._deny(command.order, reason)
                return
        self._forward(command)

    # the rule -----------------------------------------------------------------------

    def refusal(self, order: Order) -> str | None:
        """Why ``order`` exceeds buying power, or None when it may go."""
        venue = order.instrument_id.venue
        account = self.cache.account_for_venue(venue)
        if account is None or account.base_currency is None or order.is_reduce_only:
            return None
        if not account.is_margin_account:
            return self._cash_refusal(order, account)
        hedging = venue.value in self._hedging
        exposure = self._exposure(venue, hedging, exclude=order)
        key = (order.instrument_id, order.strategy_id.value)
        before = exposure.get(key, Decimal(0))
        signed = order.leaves_qty.as_decimal() * (1 if order.side == OrderSide.BUY else -1)
        after = before + abs(signed) if hedging else before + signed
        if abs(after) <= abs(before):
            return None
        marks: dict[InstrumentId, Price] = {}
        rates: dict[InstrumentId, float] = {}
        for instrument_id, _ in exposure | {key: after}:
            mark = self._mark(instrument_id)
            rate = self._book.rate(instrument_id)
            if mark is None or rate is None:
                return None  # nothing to value it with yet: the gate denies unpriced orders
            marks[instrument_id] = mark
            rates[instrument_id] = rate
        exposure[key] = after
        margin = 0.0
        for (instrument_id, _), quantity in exposure.items():
            instrument = self.cache.instrument(instrument_id)
            if instrument is None or not quantity:
                continue
            notional = instrument.notional_value(
                instrument.make_qty(abs(quantity)), marks[instrument_id]
            ).as_double()
            notional *= rates[instrument_id]
            margin += notional * float(self._rate(instrument, account))
        currency = account.base_currency
        equity = account.balance_total(currency).as_double()
        for position in self.cache.positions_open(venue=venue):
            mark = marks.get(position.instrument_id) or self._mark(position.instrument_id)
            rate = rates.get(position.instrument_id) or self._book.rate(position.instrument_id)
            if mark is not None and rate is not None:
                equity += position.unrealized_pnl(mark).as_double() * rate
        if margin <= equity + 1e-9 * max(abs(equity), 1.0):
            return None
        leverage = _leverage(account, order.instrument_id)
        return (
            f"{MARGIN_REASON}: margin {margin:,.2f} {currency.code} after the order exceeds "
            f"equity {equity:,.2f} {currency.code} (leverage {leverage:g})"
        )

    def _cash_refusal(self, order: Order, account: Any) -> str | None:
        if order.side != OrderSide.BUY:
            return None  # a sell spends no cash (the venue refuses short sales itself)
        cost = self._buy_cost(order)
        if cost is None:
            return None
        venue = order.instrument_id.venue
        pending = 0.0
        for other in self.cache.orders_open(venue=venue) + self.cache.orders_inflight(venue=venue):
            if other.client_order_id != order.client_order_id and other.side == OrderSide.BUY:
                pending += self._buy_cost(other) or 0.0
        currency = account.base_currency
        cash = account.balance_total(currency).as_double()
        if cost + pending <= cash:
            return None
        return (
            f"{CASH_REASON}: the order costs {cost:,.2f} {currency.code} with "
            f"{pending:,.2f} pending, the account holds {cash:,.2f} {currency.code}"
        )

    def _buy_cost(self, order: Order) -> float | None:
        """What a buy may cost (account currency): at the last close plus a tick, with the
        taker fee, at the instrument's rate now."""
        instrument = self.cache.instrument(order.instrument_id)
        mark = self._mark(order.instrument_id)
        if instrument is None or mark is None:
            return None
        rate = self._book.rate(order.instrument_id)
        if rate is None:
            return None
        price = Price.from_raw(mark.raw + instrument.price_increment.raw, mark.precision)
        notional: float = instrument.notional_value(order.leaves_qty, price).as_double() * rate
        fee = self._taker_fees.get(order.instrument_id.venue.value)
        fee_rate = float(instrument.taker_fee if fee is None else fee)
        return notional * (1 + max(fee_rate, 0.0))

    def _exposure(
        self, venue: Venue, hedging: bool, exclude: Order
    ) -> dict[tuple[InstrumentId, str], Decimal]:
        """Per instrument and strategy: the net (or, hedging, gross) quantity of the open
        positions and of the orders sent but not yet filled."""
        exposure: dict[tuple[InstrumentId, str], Decimal] = {}
        for position in self.cache.positions_open(venue=venue):
            key = (position.instrument_id, position.strategy_id.value)
            quantity = position.signed_decimal_qty()
            exposure[key] = exposure.get(key, Decimal(0)) + (abs(quantity) if hedging else quantity)
        pending = self.cache.orders_open(venue=venue) + self.cache.orders_inflight(venue=venue)
        for order in pending:
            if order.client_order_id == exclude.client_order_id:
                continue
            key = (order.instrument_id, order.strategy_id.value)
            leaves = order.leaves_qty.as_decimal()
            signed = leaves if order.side == OrderSide.BUY else -leaves
            if hedging:
                signed = -leaves if order.is_reduce_only else leaves
            exposure[key] = exposure.get(key, Decimal(0)) + signed
        return exposure

    def _rate(self, instrument: Instrument, account: Any) -> Decimal:
        rate = self._rates.get(instrument.id)
        if rate is None:
            own = Decimal(instrument.margin_init)
            rate = own if own > 0 else 1 / _leverage(account, instrument.id)
            self._rates[instrument.id] = rate
        return rate

    def _mark(self, instrument_id: InstrumentId) -> Price | None:
        bar_type = self._bar_types.get(instrument_id)
        bar = self.cache.bar(bar_type) if bar_type is not None else None
        return None if bar is None else bar.close

    def _deny(self, order: Order, reason: str) -> None:
        if order.status != OrderStatus.INITIALIZED:
            return
        if not self.cache.order_exists(order.client_order_id):
            self.cache.add_order(order)
        self.msgbus.send(
            endpoint="ExecEngine.process",
            msg=OrderDenied(
                trader_id=order.trader_id,
                strategy_id=order.strategy_id,
                instrument_id=order.instrument_id,
                client_order_id=order.client_order_id,
                reason=reason,
                event_id=UUID4(),
                ts_init=self.clock.timestamp_ns(),
            ),
        )


def _leverage(account: Any, instrument_id: InstrumentId) -> Decimal:
    """The account's leverage for the instrument (its own, else the venue's default)."""
    return Decimal(account.leverage(instrument_id) or account.default_leverage)
