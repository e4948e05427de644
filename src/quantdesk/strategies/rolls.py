"""A family strategy's chains of futures: one instrument to the family, rolled in the engine.

The runner gives a family strategy trading contracts of a rolled chain its ``rolls``
(``adapters/nautilus/expiry.py``): per chain, its contracts in the run in expiration order and
the rule (``domain/rolls.py``). :class:`ChainBook` makes the chain one instrument for the
family: its id is the chain's first contract's (``logical``), its bars are the active
contract's bars relabelled as the logical bar type (one continuous series, not
back-adjusted), and orders, positions and flattening on the logical id go to the active
contract. At a roll it asks the strategy to close the old contract's position and open the
same signed quantity in the next (two gated market orders tagged ``ROLL_TAG``).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import msgspec
from nautilus_trader.common.component import Clock
from nautilus_trader.common.factories import OrderFactory
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.enums import OrderSide, OrderType
from nautilus_trader.model.events import OrderFilled
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.objects import Quantity
from nautilus_trader.model.orders import Order

from quantdesk.domain.backtest_checks import ParameterValueError
from quantdesk.domain.rolls import DAY_NS, RollMethod


class ChainRollConfig(msgspec.Struct, frozen=True, kw_only=True):
    """One chain as a strategy config carries it (written by the runner, not by hand)."""

    contracts: list[str]
    method: str = RollMethod.DAYS_BEFORE_EXPIRY.value
    offset_ns: int = 0


RollOrders = Callable[[InstrumentId, InstrumentId], None]
"""The strategy's roll: close the position in the first contract, open it in the second."""


@dataclass
class _Chain:
    contracts: list[InstrumentId]
    method: RollMethod
    offset_ns: int
    logical_bar_type: BarType
    expirations: list[int] = field(default_factory=list)
    active: int = 0
    volumes: dict[tuple[int, int], float] = field(default_factory=dict)  # (contract, day)

    @property
    def logical(self) -> InstrumentId:
        return self.contracts[0]

    @property
    def current(self) -> InstrumentId:
        return self.contracts[self.active]


class ChainBook:
    """The chains of one family strategy (empty when it rolls none)."""

    def __init__(self, rolls: list[ChainRollConfig], bar_type_of: Callable[[str], BarType]):
        self._chains: list[_Chain] = []
        self._by_bar_type: dict[BarType, tuple[_Chain, int]] = {}
        self._by_logical: dict[InstrumentId, _Chain] = {}
        self._by_instrument: dict[InstrumentId, InstrumentId] = {}  # contract -> logical
        self._clock: Clock | None = None
        self._roll: RollOrders | None = None
        for roll in rolls:
            if not roll.contracts or roll.method not in {m.value for m in RollMethod}:
                raise ParameterValueError("rolls", f"not a chain roll: {roll}")
            contracts = [InstrumentId.from_str(c) for c in roll.contracts]
            chain = _Chain(
                contracts=contracts,
                method=RollMethod(roll.method),
                offset_ns=roll.offset_ns,
                logical_bar_type=bar_type_of(roll.contracts[0]),
            )
            self._chains.append(chain)
            self._by_logical[chain.logical] = chain
            self._by_instrument.update({c: chain.logical for c in contracts})
            for index, contract in enumerate(roll.contracts):
                self._by_bar_type[bar_type_of(contract)] = (chain, index)

    def __bool__(self) -> bool:
        return bool(self._chains)

    def hidden(self, instrument_id: str) -> bool:
        """A chain contract other than its logical one: not an instrument of the family."""
        return any(
            instrument_id in {c.value for c in chain.contracts[1:]} for chain in self._chains
        )

    def members(self, instrument_id: InstrumentId) -> list[InstrumentId]:
        """The contracts behind an instrument of the family (itself when not a chain)."""
        chain = self._by_logical.get(instrument_id)
        return [instrument_id] if chain is None else list(chain.contracts)

    def active(self, instrument_id: InstrumentId) -> InstrumentId:
        """The contract an order on ``instrument_id`` goes to."""
        chain = self._by_logical.get(instrument_id)
        return instrument_id if chain is None else chain.current

    def relabelled(self, event: OrderFilled) -> OrderFilled:
        """A fill in a chain's contract as a fill in its logical instrument: what a family
        keeps per instrument (its net position from fills) then spans the chain."""
        found = self._by_instrument.get(event.instrument_id)
        if found is None or found == event.instrument_id:
            return event
        values = OrderFilled.to_dict(event)
        values["instrument_id"] = found.value
        return OrderFilled.from_dict(values)

    def extra_bar_types(self) -> list[BarType]:
        """The chains' bar types besides the logical ones (subscribed too)."""
        logical = {c.logical_bar_type for c in self._chains}
        return [b for b in self._by_bar_type if b not in logical]

    def start(
        self, expiration_of: Callable[[InstrumentId], int], clock: Clock, roll: RollOrders
    ) -> None:
        """Expirations from the engine's instruments; the first contract not yet due to roll
        at the start is the active one. A roll happens at a clock alert, after every bar of
        its instant (both contracts' markets are then that instant's): at the days rule's
        instant, or at each UTC midnight for the volume rule."""
        self._clock, self._roll = clock, roll
        now = clock.timestamp_ns()
        for chain in self._chains:
            chain.expirations = [expiration_of(c) for c in chain.contracts]
            while chain.active + 1 < len(chain.contracts) and self._due_ns(chain) <= now:
                chain.active += 1
            if chain.method is RollMethod.VOLUME:
                clock.set_timer_ns(
                    f"quantdesk-roll-{chain.logical}",
                    DAY_NS,
                    (now // DAY_NS + 1) * DAY_NS,
                    0,
                    callback=lambda event, c=chain: self._on_midnight(c, event.ts_event),
                )
            else:
                self._schedule(chain)

    def _due_ns(self, chain: _Chain) -> int:
        """When the active contract rolls at the latest: the days rule's instant, or its
        expiration (the volume rule: a contract out-traded by none is held to expiry)."""
        return chain.expirations[chain.active] - chain.offset_ns

    def _schedule(self, chain: _Chain) -> None:
        if chain.active + 1 < len(chain.contracts) and self._clock is not None:
            self._clock.set_time_alert_ns(
                f"quantdesk-roll-{chain.logical}-{chain.active}",
                self._due_ns(chain),
                callback=lambda _, c=chain: self._roll_now(c),
            )

    def _roll_now(self, chain: _Chain) -> None:
        if chain.active + 1 < len(chain.contracts) and self._roll is not None:
            self._roll(chain.current, chain.contracts[chain.active + 1])
            chain.active += 1
            self._schedule(chain)

    def _on_midnight(self, chain: _Chain, ts: int) -> None:
        """The day before ``ts`` is complete: roll if the next contract traded more in it."""
        k, day = chain.active, ts // DAY_NS - 1
        if k + 1 < len(chain.contracts) and chain.volumes.get(
            (k + 1, day), 0.0
        ) > chain.volumes.get((k, day), 0.0):
            self._roll_now(chain)

    def on_bar(self, bar: Bar) -> Bar | None:
        """The bar as the family sees it: the active contract's as the logical bar type;
        None for another contract of the chain."""
        found = self._by_bar_type.get(bar.bar_type)
        if found is None:
            return bar
        chain, index = found
        ts = bar.ts_init
        if chain.method is RollMethod.VOLUME:
            key = (index, ts // DAY_NS)
            chain.volumes[key] = chain.volumes.get(key, 0.0) + bar.volume.as_double()
        while chain.active + 1 < len(chain.contracts) and ts > chain.expirations[chain.active]:
            chain.active += 1  # expired unrolled (settled at expiry): on to the next, flat
        if index != chain.active:
            return None
        if index == 0:
            return bar
        return Bar(
            chain.logical_bar_type,
            bar.open,
            bar.high,
            bar.low,
            bar.close,
            bar.volume,
            bar.ts_event,
            bar.ts_init,
        )


def retarget(factory: OrderFactory, order: Order, to: InstrumentId) -> Order:
    """``order`` on the contract ``to`` instead (a family's order on a chain's logical id goes
    to the active contract); market and limit orders only, as the families send."""
    if order.instrument_id == to:
        return order
    common = {
        "instrument_id": to,
        "order_side": order.side,
        "quantity": order.quantity,
        "time_in_force": order.time_in_force,
        "reduce_only": order.is_reduce_only,
        "tags": order.tags,
    }
    if order.order_type == OrderType.MARKET:
        return factory.market(**common)
    if order.order_type == OrderType.LIMIT:
        return factory.limit(price=order.price, post_only=order.is_post_only, **common)
    raise RuntimeError(f"a {order.type_string()} order cannot be routed along a chain")


def contract_order(
    factory: OrderFactory,
    instrument_id: InstrumentId,
    signed: Decimal,
    quantity: Quantity,
    *,
    closing: bool,
    tags: list[str] | None,
) -> Order:
    """A market order taking ``signed`` off (``closing``) or onto a contract's position."""
    buy = (signed < 0) if closing else (signed > 0)
    return factory.market(
        instrument_id=instrument_id,
        order_side=OrderSide.BUY if buy else OrderSide.SELL,
        quantity=quantity,
        reduce_only=closing,
        tags=tags,
    )
