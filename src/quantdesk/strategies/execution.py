"""Execution: work a parent order (``side``, ``total_quantity``) over a horizon in slices.

One parent per instrument of the definition, each of ``total_quantity``, starting at that
instrument's first bar (``t0``, its close the arrival price). Slice ``k`` is due at ``t0 + k *
slice_interval_seconds`` for every ``k`` with ``k * interval < horizon_minutes * 60`` (``N``
slices). Bar driven, so deterministic: a slice goes at the first bar at or after its time;
when one bar passes several slice times they go as one (the latest due). At the first bar at
or after ``t0 + horizon`` an open child is cancelled and the parent ends, filled or not.

Slice sizes, rounded down to the instrument's size increment; ``P_k`` is the parent's planned
cumulative quantity after slice ``k``, the child is ``P_k`` minus what has filled so far, so
an unfilled (or denied) remainder is carried into the next slice; the last slice's ``P`` is
``total_quantity`` (it completes the remainder):

- ``twap``: ``P_k = total * (k + 1) / N``;
- ``vwap``: with ``u_k`` the market volume of the bars since the previous slice (the first
  bar's for ``k = 0``) and ``m_k`` the volume seen so far per slice time (its sum over
  ``k + 1``), ``P_k = P_{k-1} + (total - P_{k-1}) * u_k / (u_k + (N - 1 - k) * m_k)``: the
  interval's share of the volume still expected, the remaining slices forecast at the volume
  seen so far per slice. Only volume already traded is used (no look-ahead); no volume yet
  gives TWAP's share;
- ``pov``: no schedule: each slice is ``min(total - filled, participation_rate * volume of
  the last bar)``, so the cap holds for every slice and a thin market leaves the parent
  short at the horizon (the filled share says so).

``limit_offset_bps`` none: market slices. Otherwise each slice is a GTC limit at the last
close ``-`` the offset for a buy (rounded down to the tick) or ``+`` it for a sell (rounded
up): passive, it fills only if the market comes to it. The previous slice's open child is
cancelled when the next one goes, its unfilled part carried as above.

Why not NautilusTrader's ``ExecAlgorithm`` (e.g. its TWAP): its children are spawned and sent
to the engine's risk engine by the algorithm itself, past ``QuantdeskStrategy.submit``, so
quantdesk's risk gate (limits, kill switch, attribution) would never see them. Slicing here
sends every child through the gate.
"""

import math
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import ClassVar

from nautilus_trader.model.data import Bar
from nautilus_trader.model.enums import OrderSide, TimeInForce
from nautilus_trader.model.events import OrderFilled
from nautilus_trader.model.identifiers import ClientOrderId, InstrumentId

from quantdesk.domain.strategies.families import ExecutionParameters
from quantdesk.strategies.base import FamilyConfig, FamilyStrategy, family_parameters

NS_PER_SECOND = 1_000_000_000
BPS = Decimal(10_000)


class ExecutionConfig(FamilyConfig, frozen=True, kw_only=True):
    algorithm: str
    side: str
    total_quantity: Decimal
    horizon_minutes: int = 60
    slice_interval_seconds: int = 60
    participation_rate: float | None = None
    limit_offset_bps: float | None = None


def slice_count(horizon_minutes: int, slice_interval_seconds: int) -> int:
    """Slices at ``t0 + k * interval`` strictly inside the horizon."""
    return math.ceil(horizon_minutes * 60 / slice_interval_seconds)


def floor_to(quantity: Decimal, increment: Decimal) -> Decimal:
    return (quantity / increment).to_integral_value(ROUND_FLOOR) * increment


def limit_price(close: Decimal, buy: bool, offset_bps: Decimal, tick: Decimal) -> Decimal:
    """Close minus the offset for a buy (down to the tick), plus it for a sell (up)."""
    if buy:
        raw = close * (1 - offset_bps / BPS)
        return max((raw / tick).to_integral_value(ROUND_FLOOR) * tick, tick)
    raw = close * (1 + offset_bps / BPS)
    return (raw / tick).to_integral_value(ROUND_CEILING) * tick


class SlicePlan:
    """The planned cumulative quantity ``P_k`` of a TWAP or VWAP parent (pure, no engine)."""

    def __init__(self, algorithm: str, total: Decimal, slices: int, increment: Decimal) -> None:
        self.algorithm = algorithm
        self.total = total
        self.slices = slices
        self.increment = increment
        self.planned = Decimal(0)
        self._volume_seen = Decimal(0)

    def advance(self, k: int, interval_volume: Decimal) -> Decimal:
        """``P_k`` after slice ``k`` (the latest due), given the market volume since the
        previous slice."""
        if k >= self.slices - 1:
            self.planned = self.total
            return self.planned
        if self.algorithm == "twap":
            self.planned = floor_to(self.total * (k + 1) / self.slices, self.increment)
            return self.planned
        self._volume_seen += interval_volume
        mean = self._volume_seen / (k + 1)  # per slice time so far (some may have shared a bar)
        left = self.slices - 1 - k
        expected = interval_volume + left * mean
        share = interval_volume / expected if expected > 0 else Decimal(1) / (left + 1)
        remaining = self.total - self.planned
        self.planned += floor_to(remaining * share, self.increment)
        return self.planned


class _Parent:
    """One instrument's parent order as it is worked."""

    def __init__(self, plan: SlicePlan) -> None:
        self.plan = plan
        self.t0: int | None = None
        self.last_slice = -1
        self.volume_since = Decimal(0)
        self.filled = Decimal(0)
        self.child: ClientOrderId | None = None
        self.done = False
        self.slices_sent = 0


class Execution(FamilyStrategy):
    quantity_parameters: ClassVar[frozenset[str]] = frozenset({"total_quantity"})

    def __init__(self, config: ExecutionConfig) -> None:
        family_parameters(ExecutionParameters, config, "participation_rate")
        super().__init__(config)
        self._algorithm = config.algorithm
        self._side = OrderSide.BUY if config.side == "buy" else OrderSide.SELL
        self._total = config.total_quantity
        self._interval_ns = config.slice_interval_seconds * NS_PER_SECOND
        self._horizon_ns = config.horizon_minutes * 60 * NS_PER_SECOND
        self._slices = slice_count(config.horizon_minutes, config.slice_interval_seconds)
        self._rate = (
            None if config.participation_rate is None else Decimal(str(config.participation_rate))
        )
        self._offset = (
            None if config.limit_offset_bps is None else Decimal(str(config.limit_offset_bps))
        )
        self.warmup_bars = 1
        self._parents: dict[InstrumentId, _Parent] = {}

    def trade_size_of(self, instrument_id: InstrumentId) -> Decimal:
        return self._total

    def on_start(self) -> None:
        super().on_start()
        self._parents = {iid: self._new_parent(iid) for iid in self.instruments}
        self.subscribe_all_bars()

    def _new_parent(self, iid: InstrumentId) -> _Parent:
        instrument = self.cache.instrument(iid)
        increment = instrument.size_increment.as_decimal()
        return _Parent(SlicePlan(self._algorithm, self._total, self._slices, increment))

    def parent_filled(self, instrument_id: InstrumentId) -> Decimal:
        """Quantity of the parent's side filled so far in ``instrument_id``."""
        return self._parents[instrument_id].filled

    def on_order_filled(self, event: OrderFilled) -> None:
        parent = self._parents.get(event.instrument_id)
        if parent is not None and event.order_side == self._side:
            parent.filled += event.last_qty.as_decimal()

    def on_bar(self, bar: Bar) -> None:
        iid = self.instrument_of.get(bar.bar_type)
        parent = None if iid is None else self._parents.get(iid)
        if iid is None or parent is None or parent.done:
            return
        ts = bar.ts_event
        volume = bar.volume.as_decimal()
        if parent.t0 is None:
            parent.t0 = ts
        parent.volume_since += volume
        if ts >= parent.t0 + self._horizon_ns or not self.may_trade(ts):
            self._cancel_child(parent)
            parent.done = True
            return
        due = min((ts - parent.t0) // self._interval_ns, self._slices - 1)
        if due <= parent.last_slice:
            return
        parent.last_slice = due
        self._cancel_child(parent)
        increment = parent.plan.increment
        if self._algorithm == "pov":
            assert self._rate is not None  # the model requires it with pov
            cap = floor_to(self._rate * volume, increment)
            child = min(self._total - parent.filled, cap)
        else:
            child = parent.plan.advance(due, parent.volume_since) - parent.filled
        parent.volume_since = Decimal(0)
        child = floor_to(child, increment)
        if child > 0:
            self._send(iid, parent, child, bar.close.as_decimal())

    def _send(self, iid: InstrumentId, parent: _Parent, quantity: Decimal, close: Decimal) -> None:
        instrument = self.cache.instrument(iid)
        qty = instrument.make_qty(quantity)
        if self._offset is None:
            order = self.order_factory.market(
                instrument_id=iid, order_side=self._side, quantity=qty
            )
        else:
            tick = instrument.price_increment.as_decimal()
            price = limit_price(close, self._side == OrderSide.BUY, self._offset, tick)
            order = self.order_factory.limit(
                instrument_id=iid,
                order_side=self._side,
                quantity=qty,
                price=instrument.make_price(price),
                time_in_force=TimeInForce.GTC,
            )
        parent.slices_sent += 1
        if self.submit(order):
            parent.child = order.client_order_id

    def _cancel_child(self, parent: _Parent) -> None:
        if parent.child is None:
            return
        order = self.cache.order(parent.child)
        if order is not None and order.is_open:
            self.cancel_order(order)
        parent.child = None

    def on_stop(self) -> None:
        for parent in self._parents.values():
            self._cancel_child(parent)
        super().on_stop()

    def on_reset(self) -> None:
        self._parents = {}
