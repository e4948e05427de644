"""Fill at the next bar's open: a market order decided on bar t fills at bar t+1's open.

The engine fills a market order against the market it holds when the order arrives; on bars
that is the close of the bar just seen (nautilus-notes §9.2), which is quantdesk's default
(``fill_at="close"``). backtesting.py and zipline fill at the next bar's open instead. For a
venue with ``fill_at="next_open"`` two pieces, both engine-side, give that convention to
every strategy unchanged:

- :class:`OpenTicksNode` streams, just before each bar of such a venue's instruments, the
  bar's open as a tick of the same time (a ``TradeTick`` for LAST/MID bars; a ``QuoteTick``
  of the two opens for a BID/ASK pair): the engine's market is that open first, then the bar
  itself (open, high, low, close). The tick's size is what the engine offers at each of the
  bar's prices, ``max(volume / 4, size increment)``, so ``liquidity="volume"`` fills at most
  that at the open and the rest one tick worse, as on any bar; ``"unlimited"`` fills the
  whole order at the open.
- :class:`NextOpenHold` sits in front of the engine's risk engine (after quantdesk's gate in
  the strategy and the margin check) and holds the ``SubmitOrder`` of each market order
  until the open tick of its instrument arrives; then it sends the held orders, in the order
  they were decided, through the margin check again (what they need at the open, with the
  orders released before them pending) and on to the venue. Limit and stop orders go on at
  once: they rest on the book and the engine fills them by its own rules.

An order still held when the run ends (decided on the last bar) has no open to fill at: it is
denied with reason ``NO_NEXT_OPEN``, which the run counts and reports like any refusal.
Orders the strategies send while they stop (``flat_at_end``) fill at the last close: after
the last bar there is no open left to wait for.

A fill is stamped with bar t+1's time (the engine sees that bar at its close, the open tick
just before it), at bar t+1's open price.
"""

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from nautilus_trader.backtest.config import BacktestDataConfig
from nautilus_trader.backtest.engine import BacktestEngine
from nautilus_trader.common.actor import Actor
from nautilus_trader.config import ActorConfig
from nautilus_trader.core.uuid import UUID4
from nautilus_trader.execution.messages import SubmitOrder
from nautilus_trader.model.data import Bar, BarType, QuoteTick, TradeTick
from nautilus_trader.model.enums import AggressorSide, OrderStatus, OrderType, PriceType
from nautilus_trader.model.events import OrderDenied
from nautilus_trader.model.identifiers import InstrumentId, TradeId
from nautilus_trader.model.objects import Quantity
from nautilus_trader.model.orders import Order

from quantdesk.adapters.nautilus.bar_sides import QuoteSidesNode, companion
from quantdesk.adapters.nautilus.margin import RISK_ENDPOINT

NO_NEXT_OPEN = "NO_NEXT_OPEN"
_HELD_TYPES = frozenset({OrderType.MARKET, OrderType.MARKET_TO_LIMIT})


def no_next_open_reason(instrument_id: str) -> str:
    return (
        f"{NO_NEXT_OPEN}: a market order decided on the last bar of {instrument_id} fills at "
        "the next bar's open (venue fill_at next_open), and the run has no bar after it"
    )


class NextOpenHoldConfig(ActorConfig, frozen=True, kw_only=True):
    pass


class NextOpenHold(Actor):
    """Holds market orders of ``instruments`` until their next open tick (see module doc).

    ``forward``: the risk engine's ``execute`` (the endpoint handler this actor replaces at
    start; the margin check, started after it, takes this actor's :meth:`execute` as its own
    forward). ``recheck``: the margin check's rule, asked again at the open.
    """

    def __init__(
        self,
        config: NextOpenHoldConfig,
        forward: Callable[[Any], None],
        instruments: Iterable[str],
        recheck: Callable[[Order], str | None] | None = None,
    ) -> None:
        super().__init__(config)
        self._forward = forward
        self._instruments = sorted(InstrumentId.from_str(i) for i in set(instruments))
        self._held_ids = frozenset(self._instruments)
        self._held: dict[InstrumentId, list[tuple[int, SubmitOrder]]] = {}
        self.recheck = recheck
        self.orders_held = 0
        self.orders_never_filled = 0

    def on_start(self) -> None:
        self.msgbus.deregister(endpoint=RISK_ENDPOINT, handler=self._forward)
        self.msgbus.register(endpoint=RISK_ENDPOINT, handler=self.execute)
        for instrument_id in self._instruments:
            self.subscribe_trade_ticks(instrument_id)
            self.subscribe_quote_ticks(instrument_id)

    def on_stop(self) -> None:
        # The endpoint stays with :meth:`execute`: the margin check stops after this actor and
        # hands it back to its forward, which is this actor. Stopped, it forwards at once.
        for instrument_id in sorted(self._held):
            for _, command in self._held[instrument_id]:
                self.orders_never_filled += 1
                self._deny(command.order, no_next_open_reason(str(instrument_id)))
        self._held.clear()

    def on_reset(self) -> None:
        self._held.clear()
        self.orders_held = 0
        self.orders_never_filled = 0

    def execute(self, command: Any) -> None:
        """The risk engine's endpoint: market orders wait for the next open, the rest go on."""
        if (
            self.is_running
            and isinstance(command, SubmitOrder)
            and command.order.order_type in _HELD_TYPES
            and command.instrument_id in self._held_ids
        ):
            decided = self.clock.timestamp_ns()
            self._held.setdefault(command.instrument_id, []).append((decided, command))
            self.orders_held += 1
            return
        self._forward(command)

    def on_trade_tick(self, tick: TradeTick) -> None:
        self._release(tick.instrument_id, tick.ts_init)

    def on_quote_tick(self, tick: QuoteTick) -> None:
        self._release(tick.instrument_id, tick.ts_init)

    def _release(self, instrument_id: InstrumentId, ts_open: int) -> None:
        """The orders decided before this open go, in the order decided; one decided at the
        open's own time (on another bar of that time) waits for the next open."""
        held = self._held.get(instrument_id)
        if not held:
            return
        due = [command for decided, command in held if decided < ts_open]
        if len(due) < len(held):
            self._held[instrument_id] = [(d, c) for d, c in held if d >= ts_open]
        else:
            del self._held[instrument_id]
        for command in due:
            reason = None if self.recheck is None else self.recheck(command.order)
            if reason is not None:
                self._deny(command.order, reason)
                continue
            self._forward(command)

    def _deny(self, order: Order, reason: str) -> None:
        if order.status != OrderStatus.INITIALIZED:
            return
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


class OpenTicksNode(QuoteSidesNode):
    """``QuoteSidesNode`` whose engine receives, before each bar of ``opens``, its open tick.

    ``opens``: for each instrument of a next-open venue, its finest streamed bar type (the one
    the engine executes on): a coarser bar's open, seen at its close, is a stale price.
    """

    def __init__(self, configs: list[Any], spreads: dict[str, Any], opens: Iterable[str]) -> None:
        super().__init__(configs=configs, spreads=spreads)
        self._opens = frozenset(BarType.from_str(b) for b in opens)

    def _run_streaming(
        self,
        run_config_id: str,
        engine: BacktestEngine,
        data_configs: list[BacktestDataConfig],
        chunk_size: int,
        start: str | int | None = None,
        end: str | int | None = None,
    ) -> None:
        target: Any = _OpenTicks(engine, self._opens) if self._opens else engine
        super()._run_streaming(run_config_id, target, data_configs, chunk_size, start, end)

    def _run_oneshot(
        self,
        run_config_id: str,
        engine: BacktestEngine,
        data_configs: list[BacktestDataConfig],
        start: str | int | None = None,
        end: str | int | None = None,
    ) -> None:
        target: Any = _OpenTicks(engine, self._opens) if self._opens else engine
        super()._run_oneshot(run_config_id, target, data_configs, start, end)


class _OpenTicks:
    """Stands in for the engine: an open tick goes in right before its bar (the engine sorts
    stably by ``ts_init``, so the tick stays first). A BID/ASK bar comes right after its
    other side (``bar_sides``): the quote of the two opens goes in before the pair."""

    def __init__(self, engine: Any, opens: frozenset[BarType]) -> None:
        self._engine = engine
        self._opens = opens
        self._increments: dict[InstrumentId, float] = {}
        self._count = 0

    def add_data(
        self,
        data: list[Any],
        client_id: Any = None,
        validate: bool = True,
        sort: bool = True,
    ) -> None:
        opens = self._opens
        out: list[Any] = []
        for item in data:
            if type(item) is Bar and item.bar_type in opens:
                kind = item.bar_type.spec.price_type
                if kind in (PriceType.LAST, PriceType.MID):
                    out.append(self._trade(item))
                elif out and _pairs(out[-1], item):
                    out.insert(len(out) - 1, self._quote(out[-1], item))
            out.append(item)
        self._engine.add_data(data=out, client_id=client_id, validate=validate, sort=sort)

    def _size(self, bar: Bar) -> Quantity:
        """What the engine offers at each of a bar's prices (``_process_trade_ticks_from_bar``)."""
        instrument_id = bar.bar_type.instrument_id
        increment = self._increments.get(instrument_id)
        if increment is None:
            instrument = self._engine.cache.instrument(instrument_id)
            increment = instrument.size_increment.as_double()
            self._increments[instrument_id] = increment
        return Quantity(max(bar.volume.as_double() / 4.0, increment), bar.volume.precision)

    def _trade(self, bar: Bar) -> TradeTick:
        self._count += 1
        return TradeTick(
            bar.bar_type.instrument_id,
            bar.open,
            self._size(bar),
            AggressorSide.NO_AGGRESSOR,
            TradeId(f"QD-OPEN-{self._count}"),
            bar.ts_init,
            bar.ts_init,
        )

    def _quote(self, first: Bar, second: Bar) -> QuoteTick:
        bid, ask = (
            (first, second)
            if first.bar_type.spec.price_type == PriceType.BID
            else (
                second,
                first,
            )
        )
        return QuoteTick(
            bid.bar_type.instrument_id,
            bid.open,
            ask.open,
            self._size(bid),
            self._size(ask),
            bid.ts_init,
            bid.ts_init,
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


def _pairs(previous: Any, bar: Bar) -> bool:
    """``previous`` is the other side of ``bar`` (BID/ASK), of the same time."""
    return (
        type(previous) is Bar
        and previous.ts_init == bar.ts_init
        and str(previous.bar_type) == companion(str(bar.bar_type))
    )


def hold_instruments(venues: Mapping[str, str], instruments: Iterable[str]) -> list[str]:
    """The instruments whose venue fills at the next open (``venues``: name -> fill_at)."""
    return sorted(i for i in instruments if venues.get(i.rsplit(".", 1)[1]) == "next_open")
