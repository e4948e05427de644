"""Trend following: long when the fast moving average is above the slow one.

Per bar, once both averages (NautilusTrader's EMA, SMA, WMA or Hull per ``ma_type``) are
warm: fast > slow wants long, otherwise short (``long_only``: flat). A flip closes the
position with one order and opens the new one with a second, so every round trip is its own
position and per-trade statistics stay honest under NETTING. With ``ma_type`` "ema", no stop
and one instrument the orders are those of the former built-in ``ema_cross``.

ATR trailing stop (``atr_stop_multiple`` = k, ATR over ``ATR_PERIOD`` bars): on entry the stop
is set at close -/+ k * ATR; each later bar first checks the close against it (a long exits
when close <= stop, a short when close >= stop), then ratchets it toward the price (long:
max(stop, close - k * ATR)). Re-entry: after a stop-out the strategy stays flat until the
averages' relation turns to the other side (a fresh trend); a long/short definition then
enters that side as usual, so one trend is never re-entered after it stopped out. The bar
of a stop-out sends nothing else.

Each instrument of the definition is traded on its own. The strategy's own position is
followed from its fills (``on_order_filled``), not the portfolio's, so another strategy on
the same instrument does not mislead it.
"""

from collections.abc import Callable
from decimal import Decimal
from typing import ClassVar

from nautilus_trader.indicators import (
    AverageTrueRange,
    ExponentialMovingAverage,
    HullMovingAverage,
    MovingAverage,
    SimpleMovingAverage,
    WeightedMovingAverage,
)
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.events import OrderFilled
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.objects import Quantity

from quantdesk.domain.backtest_checks import ParameterValueError
from quantdesk.domain.strategies.families import TrendFollowingParameters
from quantdesk.strategies.base import FamilyConfig, FamilyStrategy, family_parameters


def linear_wma(period: int) -> WeightedMovingAverage:
    """A WMA weighting the newest bar ``period``, the oldest 1 (NautilusTrader's default
    weights are equal, i.e. an SMA)."""
    return WeightedMovingAverage(period, weights=[float(w) for w in range(1, period + 1)])


ATR_PERIOD = 14
"""Bars of the average true range behind the trailing stop (the model fixes none)."""

MA_TYPES: dict[str, Callable[[int], MovingAverage]] = {
    "ema": ExponentialMovingAverage,
    "sma": SimpleMovingAverage,
    "wma": linear_wma,
    "hull": HullMovingAverage,
}


class TrendFollowingConfig(FamilyConfig, frozen=True, kw_only=True):
    fast_period: int = 10
    slow_period: int = 50
    ma_type: str = "ema"
    trade_size: Decimal
    atr_stop_multiple: float | None = None
    long_only: bool = False


class _Leg:
    """One instrument's indicators and state (attributes, not dict lookups, per bar)."""

    __slots__ = ("atr", "blocked", "fast", "iid", "net", "quantity", "slow", "stop")

    def __init__(self, iid: InstrumentId, fast: MovingAverage, slow: MovingAverage) -> None:
        self.iid = iid
        self.fast = fast
        self.slow = slow
        self.atr: AverageTrueRange | None = None
        self.quantity: Quantity | None = None
        self.reset()

    def reset(self) -> None:
        self.net = 0  # signed raw quantity of this strategy's fills
        self.stop = 0.0  # trailing stop price while a position is open (with a stop)
        self.blocked = 0  # side stopped out (+1/-1): no re-entry until the trend turns


class TrendFollowing(FamilyStrategy):
    quantity_parameters: ClassVar[frozenset[str]] = frozenset({"trade_size"})

    def __init__(self, config: TrendFollowingConfig) -> None:
        if config.ma_type not in MA_TYPES:
            raise ParameterValueError(
                "ma_type", f"{config.ma_type!r} is not one of {', '.join(MA_TYPES)}"
            )
        family_parameters(TrendFollowingParameters, config, "fast_period")
        super().__init__(config)
        self._long_only = config.long_only
        self._multiple = config.atr_stop_multiple
        make = MA_TYPES[config.ma_type]
        self._legs: dict[BarType, _Leg] = {}
        self._by_iid: dict[InstrumentId, _Leg] = {}
        for iid in self.instruments:
            leg = _Leg(iid, make(config.fast_period), make(config.slow_period))
            if self._multiple is not None:
                leg.atr = AverageTrueRange(ATR_PERIOD)
            self._legs[self.bar_types[iid]] = leg
            self._by_iid[iid] = leg
        self._only = (
            self._legs[self.bar_types[self.instruments[0]]] if len(self._legs) == 1 else None
        )
        self.warmup_bars = max(config.slow_period, ATR_PERIOD if self._multiple is not None else 0)

    def on_start(self) -> None:
        super().on_start()
        for bar_type, leg in self._legs.items():
            leg.quantity = self.quantity(leg.iid)
            self.register_indicator_for_bars(bar_type, leg.fast)
            self.register_indicator_for_bars(bar_type, leg.slow)
            if leg.atr is not None:
                self.register_indicator_for_bars(bar_type, leg.atr)
        self.subscribe_all_bars()

    def on_order_filled(self, event: OrderFilled) -> None:
        leg = self._by_iid[event.instrument_id]
        raw = event.last_qty.raw
        leg.net += raw if event.order_side == OrderSide.BUY else -raw

    def on_bar(self, bar: Bar) -> None:
        # Called for every bar of a run: attribute reads only, orders where one decides.
        leg = self._only or self._legs[bar.bar_type]
        until = self._trade_until_ns
        if not (leg.slow.initialized and leg.fast.initialized) or (
            until is not None and bar.ts_event >= until
        ):
            return
        atr = leg.atr
        if atr is not None:
            if not atr.initialized:
                return
            if self._stopped_out(leg, bar.close.as_double(), atr.value):
                return
        if leg.fast.value > leg.slow.value:
            if leg.blocked == 1:
                return
            leg.blocked = 0
            if not self._long_only and leg.net < 0:
                self.flatten(leg.iid)
            if leg.net <= 0:
                self._enter(leg, OrderSide.BUY, bar)
        else:
            if leg.blocked == -1:
                return
            if leg.blocked == 1:
                leg.blocked = 0
            if leg.net > 0:
                self.flatten(leg.iid)
                if not self._long_only:
                    self._enter(leg, OrderSide.SELL, bar)
            elif not self._long_only and leg.net == 0:
                self._enter(leg, OrderSide.SELL, bar)

    def _stopped_out(self, leg: _Leg, close: float, atr: float) -> bool:
        """Checks the open position's trailing stop, then ratchets it (see the module);
        True if it stopped out now (the bar then sends nothing else)."""
        assert self._multiple is not None
        distance = self._multiple * atr
        if leg.net > 0:
            if close <= leg.stop:
                self.flatten(leg.iid)
                leg.blocked = 1
                return True
            leg.stop = max(leg.stop, close - distance)
        elif leg.net < 0:
            if close >= leg.stop:
                self.flatten(leg.iid)
                leg.blocked = -1
                return True
            leg.stop = min(leg.stop, close + distance)
        return False

    def _enter(self, leg: _Leg, side: OrderSide, bar: Bar) -> None:
        assert leg.quantity is not None  # set in on_start
        if leg.atr is not None and self._multiple is not None:
            close = bar.close.as_double()
            distance = self._multiple * leg.atr.value
            leg.stop = close - distance if side == OrderSide.BUY else close + distance
        self._submit_market(leg.iid, side, leg.quantity)

    def on_reset(self) -> None:
        for leg in self._legs.values():
            leg.fast.reset()
            leg.slow.reset()
            if leg.atr is not None:
                leg.atr.reset()
            leg.reset()
