"""The base every quantdesk strategy stands on: one door for orders, common lifecycle.

Family strategies never call ``submit_order`` themselves; they call :meth:`submit`, which
asks the portfolio risk layer first (through the engine's message bus, so backtest and live
take the same path). No answer means no risk layer: the order is denied (fail closed).

AI signals: a strategy naming ``signal_types`` (or a family declaring
``required_signal_types``) subscribes to the signal data type at start and gets each signal
for its instruments in :meth:`on_signal` as a domain ``AISignal``, at the signal's
``ts_init`` and never earlier (replay interleaves signals with bars by ``ts_init``). An
order taken on a signal passes its id to :meth:`submit`; the id travels with the gate
request, and the decision is published so the run can trace signal -> decision -> fill.
"""

from decimal import Decimal
from typing import ClassVar, TypeVar

import msgspec
from nautilus_trader.config import StrategyConfig
from nautilus_trader.core.data import Data
from nautilus_trader.model.data import Bar, BarType, CustomData
from nautilus_trader.model.enums import OrderSide, OrderType, TimeInForce
from nautilus_trader.model.identifiers import ClientId, InstrumentId, PositionId
from nautilus_trader.model.objects import Quantity
from nautilus_trader.model.orders import Order
from nautilus_trader.trading.strategy import Strategy
from pydantic import BaseModel, ValidationError

from quantdesk.adapters.nautilus.signal_data import (
    SIGNAL_DECISION_TOPIC,
    SIGNAL_USED_TOPIC,
    AISignalData,
    from_signal_data,
    signal_client_id,
    signal_data_type,
    signal_tag,
)
from quantdesk.domain.backtest import SignalDecision, SignalUse
from quantdesk.domain.backtest_checks import ParameterValueError
from quantdesk.domain.expiry import ROLL_TAG
from quantdesk.domain.market_feeds import MarketData, bar_source
from quantdesk.domain.risk import FLATTEN_TOPIC, GATE_ENDPOINT, GateRequest, RiskAction
from quantdesk.domain.signals import AISignal, SignalType
from quantdesk.domain.time import in_ts_range, ts_range_text
from quantdesk.strategies.rolls import ChainBook, ChainRollConfig, contract_order, retarget


class QuantdeskStrategyConfig(StrategyConfig, frozen=True, kw_only=True):
    """Settings every quantdesk strategy understands.

    ``trade_until_ns``: no new orders from this time on (lets a run end flat on its own
    terms); ``flat_at_stop``: close open positions when the strategy stops;
    ``signal_types``: AI signal types to receive in ``on_signal`` (e.g. ``["SENTIMENT"]``);
    ``strategy_id``: a plain string (the engine's ``StrategyId`` type demands a hyphen, which
    only the final ``{strategy_id}-{order_id_tag}`` needs, so ``solo@1`` could not decode);
    ``registry``: the registry's record of the version (see :class:`FamilyConfig`), declared
    here so that a custom config keeps it when decoded.
    """

    strategy_id: str | None = None
    trade_until_ns: int | None = None
    flat_at_stop: bool = False
    signal_types: list[str] = msgspec.field(default_factory=list)
    registry: str = ""


class QuantdeskStrategy(Strategy):
    required_signal_types: ClassVar[frozenset[str]] = frozenset()
    """Signal types a family always needs, whatever its config says."""

    quantity_parameters: ClassVar[frozenset[str]] = frozenset()
    """Config fields that are order quantities: checked before a run against the instrument
    (positive, a multiple of its size increment, within the engine's maximum)."""
    price_parameters: ClassVar[frozenset[str]] = frozenset()
    """Config fields that are prices: checked before a run (positive, within the maximum)."""

    warmup_bars: int | None = None
    """Bars of its ``bar_type`` a strategy reads before it can decide at all: a run with
    fewer is refused before it starts (it could not trade)."""

    def __init__(self, config: QuantdeskStrategyConfig) -> None:
        until = config.trade_until_ns
        if until is not None and not in_ts_range(until):
            raise ParameterValueError(
                "trade_until_ns", f"not a time the engine can hold ({ts_range_text()})"
            )
        if config.strategy_id is not None and not isinstance(config.strategy_id, str):
            # the engine (1.221.0) names the strategy's logger with config.strategy_id and
            # refuses a StrategyId there (a TypeError): the decoded config holds one
            config = msgspec.structs.replace(config, strategy_id=str(config.strategy_id))
        super().__init__(config)
        self._trade_until_ns = until
        self._flat_at_stop = config.flat_at_stop
        wanted = {t.upper() for t in config.signal_types} | self.required_signal_types
        unknown = sorted(wanted - {t.value for t in SignalType})
        if unknown:
            raise ParameterValueError(
                "signal_types",
                f"unknown signal type(s) {', '.join(unknown)}; "
                f"known: {', '.join(t.value for t in SignalType)}",
            )
        self._signal_types = frozenset(wanted)
        self.orders_denied = 0
        self._gate_approved: Order | None = None

    def on_start(self) -> None:
        self.msgbus.subscribe(topic=FLATTEN_TOPIC, handler=self._on_flatten_request)
        if self._signal_types:
            self.subscribe_data(signal_data_type(), client_id=signal_client_id())

    # signals ----------------------------------------------------------------------------------

    def signal_instruments(self) -> frozenset[str] | None:
        """Instruments whose signals reach ``on_signal``; None: every instrument.

        Families trading one instrument narrow it, so another instrument's news is neither
        acted on nor counted as consumed.
        """
        return None

    def on_data(self, data: Data) -> None:
        """Routes replayed or live signals to ``on_signal``; families overriding ``on_data``
        call ``super().on_data(data)``."""
        inner = data.data if isinstance(data, CustomData) else data
        if not isinstance(inner, AISignalData) or inner.signal_type not in self._signal_types:
            return
        instruments = self.signal_instruments()
        if instruments is not None and inner.instrument_id.value not in instruments:
            return
        signal = from_signal_data(inner)
        self.msgbus.publish(
            topic=SIGNAL_USED_TOPIC,
            msg=SignalUse(
                strategy_id=str(self.id),
                signal_id=signal.signal_id,
                signal_type=signal.signal_type.value,
                instrument_id=signal.instrument_id,
                ts_init=signal.ts_init,
                source_model=signal.source_model,
                trace_id=signal.provenance.trace_id,
            ),
        )
        self.on_signal(signal)

    def on_signal(self, signal: AISignal) -> None:
        """A signal of a subscribed type became known now (clock time == ``signal.ts_init``)."""

    # orders -----------------------------------------------------------------------------------

    def may_trade(self, ts_ns: int) -> bool:
        return self._trade_until_ns is None or ts_ns < self._trade_until_ns

    def _trade_quantity(self, instrument_id: InstrumentId, size: Decimal) -> Quantity:
        """``size`` in the instrument's precision, looked up once at start: a strategy whose
        instrument is missing fails there rather than at its first order."""
        instrument = self.cache.instrument(instrument_id)
        if instrument is None:
            raise RuntimeError(f"instrument {instrument_id} is not in the cache")
        return instrument.make_qty(size)

    def _submit_market(
        self,
        instrument_id: InstrumentId,
        side: OrderSide,
        quantity: Quantity,
        signal_id: str | None = None,
    ) -> bool:
        """A GTC market order through the gate (:meth:`submit`), tagged with the signal it is
        taken on if any; True if sent."""
        return self.submit(
            self.order_factory.market(
                instrument_id=instrument_id,
                order_side=side,
                quantity=quantity,
                time_in_force=TimeInForce.GTC,
                tags=signal_tags(signal_id),
            ),
            signal_id,
        )

    def submit(self, order: Order, signal_id: str | None = None) -> bool:
        """Every order of every family goes out here, through the risk gate; True if sent.

        ``signal_id``: the AI signal the order is taken on; it goes to the gate and the
        decision is published (``SIGNAL_DECISION_TOPIC``) before the order is sent.
        """
        request = GateRequest(
            strategy_id=str(self.id),
            instrument_id=str(order.instrument_id),
            side=1 if order.side == OrderSide.BUY else -1,
            quantity=order.quantity.as_decimal(),
            limit_price=order.price.as_decimal() if order.has_price else None,
            signal_id=signal_id,
        )
        self.msgbus.send(endpoint=GATE_ENDPOINT, msg=request)
        decision = request.decision
        if (
            decision is None
            or decision.action is RiskAction.DENY
            or (decision.action is RiskAction.REDUCE and order.order_type != OrderType.MARKET)
        ):
            self.orders_denied += 1
            self._publish_decision(signal_id, order, approved=False)
            return False
        if decision.action is RiskAction.REDUCE:
            order = self.order_factory.market(
                instrument_id=order.instrument_id,
                order_side=order.side,
                quantity=self.cache.instrument(order.instrument_id).make_qty(decision.quantity),
                time_in_force=order.time_in_force,
                tags=order.tags,
            )
        self._publish_decision(signal_id, order, approved=True)
        self._gate_approved = order
        try:
            self.submit_order(order)
        finally:
            self._gate_approved = None
        return True

    def submit_order(
        self,
        order: Order,
        position_id: PositionId | None = None,
        client_id: ClientId | None = None,
        params: dict[str, object] | None = None,
    ) -> None:
        """The engine's own door, open only to the order the gate just approved.

        A subclass calling it (or ``close_position``/``close_all_positions``, which call it)
        stops the run: an order past the risk layer is never sent. Validation refuses such
        classes before they run; this holds for any that slip through.
        """
        if order is not self._gate_approved:
            raise RuntimeError(
                f"{self.id} sent order {order.client_order_id} without the risk gate "
                "(submit_order, close_position or close_all_positions called directly); "
                "orders must go through QuantdeskStrategy.submit"
            )
        super().submit_order(order, position_id, client_id, params)

    def _publish_decision(self, signal_id: str | None, order: Order, *, approved: bool) -> None:
        if signal_id is None:
            return
        self.msgbus.publish(
            topic=SIGNAL_DECISION_TOPIC,
            msg=SignalDecision(
                strategy_id=str(self.id),
                signal_id=signal_id,
                order_id=str(order.client_order_id),
                ts_ns=self.clock.timestamp_ns(),
                approved=approved,
            ),
        )

    def net_position(self, instrument_id: InstrumentId) -> Decimal:
        """This strategy's signed open quantity in the instrument."""
        net = Decimal(0)
        for position in self.cache.positions_open(instrument_id=instrument_id, strategy_id=self.id):
            net += position.signed_decimal_qty()
        return net

    def flatten(self, instrument_id: InstrumentId, signal_id: str | None = None) -> None:
        """Close this strategy's position in the instrument with a market order, gated too."""
        net = self.net_position(instrument_id)
        if net == 0:
            return
        instrument = self.cache.instrument(instrument_id)
        self.submit(
            self.order_factory.market(
                instrument_id=instrument_id,
                order_side=OrderSide.SELL if net > 0 else OrderSide.BUY,
                quantity=instrument.make_qty(abs(net)),
                reduce_only=True,
                tags=signal_tags(signal_id),
            ),
            signal_id,
        )

    def stop_trading_instruments(self) -> list[InstrumentId]:
        """Instruments to flatten at stop; families override when they trade several."""
        return []

    def contracts_of(self, instrument_id: InstrumentId) -> list[InstrumentId]:
        """The engine's instruments behind one the strategy trades (itself; a family's
        rolled chain: its contracts)."""
        return [instrument_id]

    def _get_flat(self) -> None:
        """Cancel the orders and close the positions of every instrument it stops trading."""
        for instrument_id in self.stop_trading_instruments():
            for contract in self.contracts_of(instrument_id):
                self.cancel_all_orders(contract)
            self.flatten(instrument_id)

    def _on_flatten_request(self, scope: str) -> None:
        """The risk layer asks scopes that breached to get flat (``flatten_on_breach``)."""
        if scope in ("portfolio", str(self.id)):
            self._get_flat()

    def on_stop(self) -> None:
        if self._flat_at_stop:
            self._get_flat()


def signal_tags(signal_id: str | None) -> list[str] | None:
    """Order tags recording the signal on the order itself (seen in the cache and reports)."""
    return None if signal_id is None else [signal_tag(signal_id)]


class FamilyConfig(QuantdeskStrategyConfig, frozen=True, kw_only=True):
    """What every registry family's config holds besides its parameters.

    A family config is its parameter model (``domain/strategies/families.py``) spelled field
    by field, with the same names and defaults, plus these: the definition's instruments in
    its order, its bar spec (each instrument's bars are ``{instrument}-{bar_spec}-EXTERNAL``,
    or ``-INTERNAL`` when ``market_data`` is ticks or the book: the engine builds them),
    and ``registry``: the canonical JSON of the definition's fields that are not config fields
    (id, version, name, description, risk, bookkeeping), which translation writes and reads
    back so that definition -> config -> definition is exact. The strategy never reads it.
    """

    instrument_ids: list[str]
    bar_spec: str = "1-MINUTE-LAST"
    market_data: str = MarketData.BARS.value
    rolls: list[ChainRollConfig] = msgspec.field(default_factory=list)


class FamilyStrategy(QuantdeskStrategy):
    """A registry family: trades the definition's instruments, each on its own bars.

    ``self.instruments`` keeps the definition's order; ``self.bar_types`` maps each to its
    bar type and ``self.instrument_of`` back. Signals of other instruments are ignored and
    every instrument is flattened at stop (when asked) or on a breach. A chain of futures the
    run rolls (``rolls``, set by the runner) is one instrument here, its first contract's id,
    on the active contract's bars; orders and positions on it are the active contract's
    (``strategies/rolls.py``).
    """

    def __init__(self, config: FamilyConfig) -> None:
        if not config.instrument_ids:
            raise ParameterValueError("instrument_ids", "must name at least one instrument")
        if len(set(config.instrument_ids)) != len(config.instrument_ids):
            raise ParameterValueError("instrument_ids", "an instrument is listed twice")
        if config.market_data not in {m.value for m in MarketData}:
            raise ParameterValueError(
                "market_data",
                f"{config.market_data!r} is not one of {', '.join(m.value for m in MarketData)}",
            )
        super().__init__(config)
        source = bar_source(config.market_data)
        self._chains = ChainBook(
            config.rolls, lambda i: BarType.from_str(f"{i}-{config.bar_spec}-{source}")
        )
        self._exact = False  # True while the base sends orders for one contract of a chain
        if self._chains:  # the engine calls the handlers it finds on the instance
            setattr(self, "handle_bar", self._handle_chain_bar)  # noqa: B010
            own_fills = self.on_order_filled
            setattr(  # noqa: B010
                self, "on_order_filled", lambda e: own_fills(self._chains.relabelled(e))
            )
        self.instruments: list[InstrumentId] = [
            InstrumentId.from_str(i) for i in config.instrument_ids if not self._chains.hidden(i)
        ]
        self.bar_types: dict[InstrumentId, BarType] = {
            iid: BarType.from_str(f"{iid}-{config.bar_spec}-{source}") for iid in self.instruments
        }
        self.instrument_of: dict[BarType, InstrumentId] = {
            bar_type: iid for iid, bar_type in self.bar_types.items()
        }
        self._instrument_values = frozenset(i.value for i in self.instruments)
        self._quantities: dict[InstrumentId, Quantity] = {}

    def on_start(self) -> None:
        super().on_start()
        for iid in self.instruments:
            self._quantities[iid] = self._trade_quantity(iid, self.trade_size_of(iid))
        if self._chains:
            self._chains.start(
                lambda i: int(self.cache.instrument(i).expiration_ns), self.clock, self._roll
            )

    def trade_size_of(self, instrument_id: InstrumentId) -> Decimal:
        """The quantity one entry trades in ``instrument_id``; families with a
        ``trade_size`` parameter need not override."""
        size: Decimal = self.config.trade_size
        return size

    def quantity(self, instrument_id: InstrumentId) -> Quantity:
        """``trade_size_of`` in the instrument's precision (looked up at start)."""
        return self._quantities[instrument_id]

    def subscribe_all_bars(self) -> None:
        for bar_type in [*self.bar_types.values(), *self._chains.extra_bar_types()]:
            self.subscribe_bars(bar_type)

    def signal_instruments(self) -> frozenset[str]:
        return self._instrument_values

    def stop_trading_instruments(self) -> list[InstrumentId]:
        return list(self.instruments)

    def contracts_of(self, instrument_id: InstrumentId) -> list[InstrumentId]:
        return self._chains.members(instrument_id)

    # chains of futures ------------------------------------------------------------------------

    def _handle_chain_bar(self, bar: Bar) -> None:
        """``handle_bar`` of a strategy trading a chain (only then: one call less a bar)."""
        seen = self._chains.on_bar(bar)
        if seen is not None:  # None: another contract of the chain than the active one
            QuantdeskStrategy.handle_bar(self, seen)

    def submit(self, order: Order, signal_id: str | None = None) -> bool:
        if self._chains and not self._exact:
            order = retarget(self.order_factory, order, self._chains.active(order.instrument_id))
        return super().submit(order, signal_id)

    def net_position(self, instrument_id: InstrumentId) -> Decimal:
        """A chain's: the sum over its contracts."""
        return sum((self._contract_held(m) for m in self.contracts_of(instrument_id)), Decimal(0))

    def flatten(self, instrument_id: InstrumentId, signal_id: str | None = None) -> None:
        """A chain: each of its contracts holding a position is closed."""
        for member in self.contracts_of(instrument_id):
            self._send_exact(member, self._contract_held(member), signal_tags(signal_id), signal_id)

    def _contract_held(self, instrument_id: InstrumentId) -> Decimal:
        return QuantdeskStrategy.net_position(self, instrument_id)

    def _roll(self, old: InstrumentId, new: InstrumentId) -> None:
        """Close the position in ``old``, open the same signed quantity in ``new``: two gated
        market orders tagged as roll trades (none once trading has stopped)."""
        held = self._contract_held(old)
        self.cancel_all_orders(old)
        if held == 0 or not self.may_trade(self.clock.timestamp_ns()):
            return
        self._send_exact(old, held, [ROLL_TAG], None)
        self._send_exact(new, held, [ROLL_TAG], None, closing=False)

    def _send_exact(
        self,
        instrument_id: InstrumentId,
        signed: Decimal,
        tags: list[str] | None,
        signal_id: str | None,
        *,
        closing: bool = True,
    ) -> None:
        if signed == 0:
            return
        quantity = self.cache.instrument(instrument_id).make_qty(abs(signed))
        order = contract_order(
            self.order_factory, instrument_id, signed, quantity, closing=closing, tags=tags
        )
        self._exact = True
        try:
            self.submit(order, signal_id)
        finally:
            self._exact = False


P = TypeVar("P", bound=BaseModel)


def family_parameters(model: type[P], config: object, cross_field: str) -> P:
    """The family's parameter model built from the config's fields of the same names, so a
    hand-written config meets the registry's bounds and cross-field rules too. The first
    violation is raised as a ``ParameterValueError`` naming its field (``cross_field`` for a
    rule between fields, which pydantic reports without one)."""
    values = {name: getattr(config, name) for name in model.model_fields}
    try:
        return model.model_validate(values)
    except ValidationError as error:
        first = error.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else cross_field
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ParameterValueError(field, f"{field}: {message}") from None
