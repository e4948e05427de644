"""Mean reversion: fade closes far from their rolling mean, measured in z-scores.

Per instrument, on each bar once ``lookback`` closes are known (the current one included):
``z = (close - mean) / std`` over the last ``lookback`` closes, ``std`` the *population*
deviation (divide by ``lookback``, ddof 0: the window is the whole population the rule looks
at). Sums are kept in the engine's integer fixed-point prices, so the mean and deviation are
exact (no rolling-float drift) and each bar costs O(1). A window of equal closes (std 0) has
no z and decides nothing. NautilusTrader's BollingerBands would do the rolling part but
reads the typical price (h + l + c) / 3, not the close.

Rule (:func:`reversion_step`, pure): flat, ``z >= entry`` opens short and ``z <= -entry``
opens long. A long closes once ``z >= -exit`` (back within the exit band, or past the mean
altogether), a short once ``z <= exit``; when that same bar is beyond the other entry band
the position flips (close, then open: two orders). Stop (``stop_zscore``): a long at
``z <= -stop`` (a short at ``z >= stop``) closes, and the instrument stays out until |z| is
back below ``entry``; no entry is taken while |z| >= stop either.

Each instrument of the definition is traded on its own; the strategy's position is followed
from its own fills.
"""

import math
from collections import deque
from decimal import Decimal
from typing import ClassVar

from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.events import OrderFilled
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.objects import Quantity

from quantdesk.domain.strategies.families import MeanReversionParameters
from quantdesk.strategies.base import FamilyConfig, FamilyStrategy, family_parameters


class MeanReversionConfig(FamilyConfig, frozen=True, kw_only=True):
    lookback: int = 20
    entry_zscore: float = 2.0
    exit_zscore: float = 0.5
    stop_zscore: float | None = None
    trade_size: Decimal


def reversion_step(
    z: float,
    side: int,
    stopped: bool,
    entry: float,
    exit_: float,
    stop: float | None,
) -> tuple[bool, int, bool]:
    """One bar's decision: (close the position?, side to open: +1/-1/0, stopped after).

    ``side`` is the position's sign now; ``stopped``: out after a stop until |z| < entry.
    """
    if stopped:
        if abs(z) >= entry:
            return False, 0, True
        stopped = False
    close = False
    if side > 0:
        if stop is not None and z <= -stop:
            return True, 0, True
        if z < -exit_:
            return False, 0, False
        close = True
    elif side < 0:
        if stop is not None and z >= stop:
            return True, 0, True
        if z > exit_:
            return False, 0, False
        close = True
    if stop is not None and abs(z) >= stop:
        return close, 0, stopped
    if z >= entry:
        return close, -1, stopped
    if z <= -entry:
        return close, 1, stopped
    return close, 0, stopped


class _Leg:
    """One instrument's rolling window (integer raw closes) and state."""

    __slots__ = ("closes", "iid", "net", "quantity", "square_sum", "stopped", "sum")

    def __init__(self, iid: InstrumentId) -> None:
        self.iid = iid
        self.quantity: Quantity | None = None
        self.closes: deque[int] = deque()
        self.reset()

    def reset(self) -> None:
        self.closes.clear()
        self.sum = 0
        self.square_sum = 0
        self.net = 0
        self.stopped = False


class MeanReversion(FamilyStrategy):
    quantity_parameters: ClassVar[frozenset[str]] = frozenset({"trade_size"})

    def __init__(self, config: MeanReversionConfig) -> None:
        family_parameters(MeanReversionParameters, config, "exit_zscore")
        super().__init__(config)
        self._lookback = config.lookback
        self._entry = config.entry_zscore
        self._exit = config.exit_zscore
        self._stop_z = config.stop_zscore
        self._legs: dict[BarType, _Leg] = {self.bar_types[i]: _Leg(i) for i in self.instruments}
        self._by_iid = {leg.iid: leg for leg in self._legs.values()}
        self.warmup_bars = config.lookback

    def on_start(self) -> None:
        super().on_start()
        for leg in self._legs.values():
            leg.quantity = self.quantity(leg.iid)
        self.subscribe_all_bars()

    def on_order_filled(self, event: OrderFilled) -> None:
        leg = self._by_iid[event.instrument_id]
        raw = event.last_qty.raw
        leg.net += raw if event.order_side == OrderSide.BUY else -raw

    def on_bar(self, bar: Bar) -> None:
        leg = self._legs[bar.bar_type]
        z = self._zscore(leg, bar.close.raw)
        until = self._trade_until_ns
        if z is None or (until is not None and bar.ts_event >= until):
            return
        side = (leg.net > 0) - (leg.net < 0)
        close, open_side, leg.stopped = reversion_step(
            z, side, leg.stopped, self._entry, self._exit, self._stop_z
        )
        if close:
            self.flatten(leg.iid)
        if open_side:
            assert leg.quantity is not None  # set in on_start
            order_side = OrderSide.BUY if open_side > 0 else OrderSide.SELL
            self._submit_market(leg.iid, order_side, leg.quantity)

    def _zscore(self, leg: _Leg, close: int) -> float | None:
        """z of ``close`` in the window ending with it (exact integer sums); None before
        the window is full or when every close in it is the same."""
        closes = leg.closes
        closes.append(close)
        leg.sum += close
        leg.square_sum += close * close
        n = self._lookback
        if len(closes) > n:
            old = closes.popleft()
            leg.sum -= old
            leg.square_sum -= old * old
        elif len(closes) < n:
            return None
        spread = n * leg.square_sum - leg.sum * leg.sum  # n^2 * population variance
        if spread <= 0:
            return None
        return (n * close - leg.sum) / math.sqrt(spread)

    def on_reset(self) -> None:
        for leg in self._legs.values():
            leg.reset()
