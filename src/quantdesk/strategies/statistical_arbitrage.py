"""Pairs trading: the hedged spread of two instruments, traded back to its mean.

The pair is the definition's instruments in order, ``y`` then ``x``; the spread is
``y - beta * x``. The clock is the complete cross-section (both closes of a timestamp, see
``cross_section``): a timestamp where one leg has no bar is skipped for both. Over the last
``lookback`` pairs of closes, ``beta`` is the OLS slope of ``y`` on ``x`` with an intercept
(``hedge_ratio`` "ols") or ``fixed_hedge_ratio`` ("fixed"); the spread of every pair in the
window is taken with that one beta, and ``z`` is the last spread's distance from the
window's mean in (population) standard deviations.

Flat, ``z >= entry_zscore`` shorts the spread (sell ``trade_size`` of y, buy ``beta *
trade_size`` of x) and ``z <= -entry_zscore`` buys it; held, ``|z| <= exit_zscore`` closes both
legs together. There is no flip: a held spread waits for the exit band. The x leg is
``trade_size * beta`` rounded to the nearest multiple of x's size increment (halves to even);
an entry whose x leg rounds to zero, or whose beta is not positive (no hedge: the legs would
not offset), is skipped and counted in ``entries_skipped``.

Both legs pass the risk gate, y first: y denied, x is not sent; y sent and x denied, y is
unwound at once with the opposite order (``unwinds``). Should legs still end up unmatched
(a denied unwind or exit), the next cross-section flattens both before anything else.

``CORRELATION_SHIFT`` signals (when subscribed) about the pair (``instrument_id`` and
``other_instrument_id`` are the two legs, either way round) with ``|change| >=``
:data:`CORRELATION_BREAK` say the relation the spread relies on moved: the spread is closed
(the orders carry the signal's id) and entries pause for the next ``lookback`` cross-sections,
so the window then holds only pairs after the break.
"""

from decimal import ROUND_HALF_EVEN, Decimal
from typing import ClassVar

import numpy as np
import numpy.typing as npt
from nautilus_trader.model.data import Bar
from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.identifiers import InstrumentId

from quantdesk.domain.backtest_checks import ParameterValueError
from quantdesk.domain.signals import AISignal, CorrelationShiftValue, SignalType
from quantdesk.domain.strategies.families import StatisticalArbitrageParameters
from quantdesk.strategies.base import FamilyConfig, FamilyStrategy, family_parameters
from quantdesk.strategies.cross_section import CrossSections, Window

CORRELATION_BREAK = 0.5
"""|change of correlation| (on -2..2) from which a shift about the pair closes the spread."""

_FLAT_SPREAD = 1e-12
"""A window whose spread deviates less than this (relative to its level) has no z-score."""

Floats = npt.NDArray[np.float64]


class StatisticalArbitrageConfig(FamilyConfig, frozen=True, kw_only=True):
    lookback: int = 240
    entry_zscore: float = 2.0
    exit_zscore: float = 0.5
    hedge_ratio: str = "ols"
    fixed_hedge_ratio: float | None = None
    trade_size: Decimal


def ols_beta(x: Floats, y: Floats) -> float | None:
    """Slope of y on x with an intercept; None when x does not move."""
    dx = x - x.mean()
    variance = float(dx @ dx)
    if not variance > 0.0:
        return None
    return float(dx @ (y - y.mean())) / variance


def spread_zscore(x: Floats, y: Floats, beta: float) -> float | None:
    """z of the last ``y - beta * x`` within the window; None when the spread is flat."""
    spread = y - beta * x
    deviation = float(spread.std())
    if not deviation > _FLAT_SPREAD * max(1.0, float(np.abs(spread).max())):
        return None
    return (float(spread[-1]) - float(spread.mean())) / deviation


def leg_quantity(trade_size: Decimal, beta: float, increment: Decimal) -> Decimal:
    """``trade_size * beta`` as the nearest multiple of ``increment`` (halves to even)."""
    steps = (trade_size * Decimal(beta) / increment).to_integral_value(ROUND_HALF_EVEN)
    return steps * increment


def spread_target(z: float, held: int, entry: float, exit_: float) -> int | None:
    """The spread to hold (+1 long, -1 short, 0 flat), or None to leave things as they are."""
    if held == 0:
        if z >= entry:
            return -1
        if z <= -entry:
            return 1
        return None
    return 0 if abs(z) <= exit_ else None


class StatisticalArbitrage(FamilyStrategy):
    quantity_parameters: ClassVar[frozenset[str]] = frozenset({"trade_size"})

    def __init__(self, config: StatisticalArbitrageConfig) -> None:
        if len(config.instrument_ids) != 2:
            raise ParameterValueError(
                "instrument_ids",
                f"a pair needs exactly two instruments (y, x), not {len(config.instrument_ids)}",
            )
        if config.hedge_ratio not in ("ols", "fixed"):
            raise ParameterValueError(
                "hedge_ratio", f"must be 'ols' or 'fixed', not {config.hedge_ratio!r}"
            )
        if config.exit_zscore >= config.entry_zscore:
            raise ParameterValueError(
                "exit_zscore",
                f"must be below entry_zscore ({config.entry_zscore}), not {config.exit_zscore}",
            )
        if (config.hedge_ratio == "fixed") != (config.fixed_hedge_ratio is not None):
            raise ParameterValueError(
                "fixed_hedge_ratio", "is required with hedge_ratio 'fixed' and only then"
            )
        family_parameters(StatisticalArbitrageParameters, config, "parameters")
        super().__init__(config)
        self._lookback = config.lookback
        self._entry = config.entry_zscore
        self._exit = config.exit_zscore
        self._fixed_beta = config.fixed_hedge_ratio
        self._trade_size = config.trade_size
        self.warmup_bars = config.lookback
        self._y, self._x = self.instruments
        self._sections = CrossSections([self._y.value, self._x.value])
        self._ys, self._xs = Window(config.lookback), Window(config.lookback)
        self._increment_x = Decimal(1)
        self._paused_through = -1
        self.entries_skipped = 0
        self.unwinds = 0
        self.last_beta: float | None = None

    def on_start(self) -> None:
        super().on_start()
        instrument = self.cache.instrument(self._x)
        if instrument is None:
            raise RuntimeError(f"instrument {self._x} is not in the cache")
        self._increment_x = instrument.size_increment.as_decimal()
        self.subscribe_all_bars()

    def on_bar(self, bar: Bar) -> None:
        iid = self.instrument_of.get(bar.bar_type)
        if iid is None:
            return
        closes = self._sections.add(iid.value, bar.ts_event, bar.close.as_double())
        if closes is None:
            return
        self._ys.append(closes[self._y.value])
        self._xs.append(closes[self._x.value])
        if not self._ys.full or not self.may_trade(bar.ts_event):
            return
        held = self._held()
        if held is None:  # legs out of step (a denied unwind or exit): get flat first
            self._close_spread()
            return
        x, y = self._xs.values(), self._ys.values()
        beta = self._fixed_beta if self._fixed_beta is not None else ols_beta(x, y)
        self.last_beta = beta
        if beta is None:
            return
        z = spread_zscore(x, y, beta)
        if z is None:
            return
        target = spread_target(z, held, self._entry, self._exit)
        if target == 0:
            self._close_spread()
        elif target is not None and self._sections.complete > self._paused_through:
            self._open_spread(target, beta)

    def _held(self) -> int | None:
        """The spread held (+1 long: y long, x short; -1 short; 0 flat); None if unmatched."""
        y, x = _sign(self.net_position(self._y)), _sign(self.net_position(self._x))
        if y == -x:
            return y
        return None

    def _open_spread(self, side: int, beta: float) -> None:
        x_quantity = leg_quantity(self._trade_size, beta, self._increment_x) if beta > 0 else 0
        if x_quantity <= 0:
            self.entries_skipped += 1
            return
        y_side = OrderSide.BUY if side > 0 else OrderSide.SELL
        x_side = OrderSide.SELL if side > 0 else OrderSide.BUY
        if not self._submit_market(self._y, y_side, self.quantity(self._y)):
            return
        instrument = self.cache.instrument(self._x)
        if self._submit_market(self._x, x_side, instrument.make_qty(x_quantity)):
            return
        self.unwinds += 1
        sent = self._unfilled(self._y, y_side)
        if sent > 0:
            undo = OrderSide.SELL if y_side == OrderSide.BUY else OrderSide.BUY
            self._submit_market(self._y, undo, self.cache.instrument(self._y).make_qty(sent))

    def _unfilled(self, iid: InstrumentId, side: OrderSide) -> Decimal:
        """What this strategy's live orders on ``iid`` and ``side`` still have to fill (the
        y leg just sent, as the gate let it through, perhaps reduced)."""
        total = Decimal(0)
        for order in self.cache.orders(instrument_id=iid, strategy_id=self.id, side=side):
            if not order.is_closed:
                total += order.leaves_qty.as_decimal()
        return total

    def _close_spread(self, signal_id: str | None = None) -> None:
        self.flatten(self._y, signal_id)
        self.flatten(self._x, signal_id)

    def on_signal(self, signal: AISignal) -> None:
        value = signal.value
        if signal.signal_type is not SignalType.CORRELATION_SHIFT or not isinstance(
            value, CorrelationShiftValue
        ):
            return
        pair = {self._y.value, self._x.value}
        if {signal.instrument_id, value.other_instrument_id} != pair:
            return
        if abs(value.change) < CORRELATION_BREAK:
            return
        self._paused_through = self._sections.complete + self._lookback
        if self.may_trade(self.clock.timestamp_ns()):
            self._close_spread(signal.signal_id)

    def on_reset(self) -> None:
        self._sections.reset()
        self._ys.reset()
        self._xs.reset()
        self._paused_through = -1
        self.entries_skipped = 0
        self.unwinds = 0
        self.last_beta = None


def _sign(value: Decimal) -> int:
    return (value > 0) - (value < 0)
