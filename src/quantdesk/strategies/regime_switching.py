"""Regime switching: follow trends in trending regimes, fade stretches in ranging ones.

Per instrument of the definition, on its bars:

- **trending**: the trend sub-logic holds the sign of ``EMA(trend_fast_period) -
  EMA(trend_slow_period)`` of the closes: long ``trade_size`` while the fast average is above
  the slow one, short while below (a cross closes with one order, opens with a second). On
  entering a trending regime it takes that side at the next bar, not only at the next cross;
- **ranging**: the reversion sub-logic takes ``z = (close - mean) / std`` over the last
  ``reversion_lookback`` closes (NautilusTrader's ``BollingerBands`` fed the close, k = 1:
  simple mean, population deviation). Flat, it goes short at ``z >= reversion_entry_zscore``
  and long at ``z <= -reversion_entry_zscore``; a long exits when z is back to 0 or above, a
  short when z is back to 0 or below (the model has no exit band: the mean is the target;
  ``|z| < Z_AT_MEAN`` counts as 0);
- **neither**: flat.

Both sub-logics' indicators are fed every bar whatever the regime, so a switch finds them
warm. On a regime change the open position (the old sub-logic's) is closed at once, and the
new sub-logic decides from the first bar after that exit: the next bar for a signal (known
between bars), the bar after the change for the volatility rule (decided on a bar; deciding
on the same bar would meet the risk gate before the exit has filled).

Where the regime comes from (``regime_source``):

- ``signal``: ``REGIME_PREDICTION`` signals about the instrument with ``confidence >=
  min_confidence`` set it (weaker ones are ignored; it holds until the next confident one).
  Labels map as ``LABEL_REGIMES``: the built-in model's (``bull_quiet``, ``bull_volatile``,
  ``bear_quiet``, ``bear_volatile``) by their volatility half: volatile (volatility above the
  instrument's usual level: moves carry) is trending, quiet (contraction: prices oscillate
  around a mean) is ranging; the direction half is left to the sub-logics. Plain
  ``trending`` / ``ranging`` mean themselves; every other label is neither. Orders taken in
  a signal regime carry the id of the signal that last set or confirmed it;
- ``volatility``: realised volatility ``rv = sqrt(mean(r^2))`` of the last
  ``volatility_lookback`` log returns of the closes against the running median of every
  ``rv`` so far (the current one included): above the median is trending, at or below it
  ranging; neither until ``volatility_lookback`` values of ``rv`` exist (``2 *
  volatility_lookback`` bars). The same volatile/quiet reading as the signal mapping.
"""

import heapq
import math
from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar

from nautilus_trader.indicators.averages import ExponentialMovingAverage
from nautilus_trader.indicators.volatility import BollingerBands
from nautilus_trader.model.data import Bar
from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.identifiers import InstrumentId

from quantdesk.domain.signals import AISignal, RegimeValue
from quantdesk.domain.strategies.families import RegimeSwitchingParameters
from quantdesk.strategies.base import FamilyConfig, FamilyStrategy, family_parameters


class Regime(StrEnum):
    TRENDING = "trending"
    RANGING = "ranging"
    NEITHER = "neither"


LABEL_REGIMES: dict[str, Regime] = {
    "bull_volatile": Regime.TRENDING,
    "bear_volatile": Regime.TRENDING,
    "bull_quiet": Regime.RANGING,
    "bear_quiet": Regime.RANGING,
    "trending": Regime.TRENDING,
    "ranging": Regime.RANGING,
}


def regime_of_label(label: str) -> Regime:
    return LABEL_REGIMES.get(label, Regime.NEITHER)


class RegimeSwitchingConfig(FamilyConfig, frozen=True, kw_only=True):
    regime_source: str = "signal"
    min_confidence: float = 0.6
    trend_fast_period: int = 10
    trend_slow_period: int = 50
    reversion_lookback: int = 20
    reversion_entry_zscore: float = 2.0
    volatility_lookback: int = 60
    trade_size: Decimal


Z_AT_MEAN = 1e-9
"""|z| below this is z = 0: the indicator's mean is a running sum, so a close equal to the
mean (two-decimal prices meet it often) reads a few 1e-13 off."""


def reversion_target(held: int, z: float, entry: float) -> int:
    """The side the reversion sub-logic wants (+1, -1, 0) holding ``held`` at z-score ``z``."""
    if held > 0:
        return 0 if z >= -Z_AT_MEAN else 1
    if held < 0:
        return 0 if z <= Z_AT_MEAN else -1
    if z >= entry:
        return -1
    if z <= -entry:
        return 1
    return 0


class RunningMedian:
    """Median of every value added so far: two heaps, O(log n) per value."""

    def __init__(self) -> None:
        self._low: list[float] = []  # max-heap (negated): the lower half
        self._high: list[float] = []  # min-heap: the upper half

    def __len__(self) -> int:
        return len(self._low) + len(self._high)

    def add(self, value: float) -> None:
        if self._low and value > -self._low[0]:
            heapq.heappush(self._high, value)
        else:
            heapq.heappush(self._low, -value)
        if len(self._low) > len(self._high) + 1:
            heapq.heappush(self._high, -heapq.heappop(self._low))
        elif len(self._high) > len(self._low):
            heapq.heappush(self._low, -heapq.heappop(self._high))

    def median(self) -> float:
        if len(self._low) > len(self._high):
            return -self._low[0]
        return (-self._low[0] + self._high[0]) / 2.0

    def clear(self) -> None:
        self._low.clear()
        self._high.clear()


class VolatilityRegime:
    """The ``volatility`` source: rv of the last ``lookback`` log returns vs its median."""

    def __init__(self, lookback: int) -> None:
        self._lookback = lookback
        self._squares: deque[float] = deque(maxlen=lookback)
        self._sum = 0.0
        self._last_close: float | None = None
        self._median = RunningMedian()

    def update(self, close: float) -> Regime:
        last, self._last_close = self._last_close, close
        if last is None or last <= 0 or close <= 0:
            return Regime.NEITHER
        r = math.log(close / last)
        if len(self._squares) == self._lookback:
            self._sum -= self._squares[0]
        self._squares.append(r * r)
        self._sum += r * r
        if len(self._squares) < self._lookback:
            return Regime.NEITHER
        rv = math.sqrt(max(self._sum, 0.0) / self._lookback)
        self._median.add(rv)
        if len(self._median) < self._lookback:
            return Regime.NEITHER
        return Regime.TRENDING if rv > self._median.median() else Regime.RANGING

    def reset(self) -> None:
        self._squares.clear()
        self._sum = 0.0
        self._last_close = None
        self._median.clear()


@dataclass
class _Book:
    """One instrument's indicators and regime."""

    fast: ExponentialMovingAverage
    slow: ExponentialMovingAverage
    bands: BollingerBands
    volatility: VolatilityRegime
    regime: Regime = Regime.NEITHER
    regime_signal: str | None = None

    def reset(self) -> None:
        for indicator in (self.fast, self.slow, self.bands):
            indicator.reset()
        self.volatility.reset()
        self.regime = Regime.NEITHER
        self.regime_signal = None


class RegimeSwitching(FamilyStrategy):
    quantity_parameters: ClassVar[frozenset[str]] = frozenset({"trade_size"})

    def __init__(self, config: RegimeSwitchingConfig) -> None:
        family_parameters(RegimeSwitchingParameters, config, "trend_fast_period")
        self._from_signals = config.regime_source == "signal"
        if self._from_signals:  # read by the base's __init__: subscribe whatever the config says
            self.required_signal_types = frozenset({"REGIME_PREDICTION"})  # type: ignore[misc]
        super().__init__(config)
        self._min_confidence = config.min_confidence
        self._entry_z = config.reversion_entry_zscore
        self._books = {
            iid: _Book(
                fast=ExponentialMovingAverage(config.trend_fast_period),
                slow=ExponentialMovingAverage(config.trend_slow_period),
                bands=BollingerBands(config.reversion_lookback, 1.0),
                volatility=VolatilityRegime(config.volatility_lookback),
            )
            for iid in self.instruments
        }
        first_decision = min(config.trend_slow_period, config.reversion_lookback)
        if not self._from_signals:
            first_decision = max(first_decision, 2 * config.volatility_lookback)
        self.warmup_bars = first_decision
        self.regime_changes = 0

    def on_start(self) -> None:
        super().on_start()
        self.subscribe_all_bars()

    # regime -----------------------------------------------------------------------------------

    def on_signal(self, signal: AISignal) -> None:
        if not self._from_signals or not isinstance(signal.value, RegimeValue):
            return
        if signal.confidence < self._min_confidence:
            return
        iid = InstrumentId.from_str(signal.instrument_id)
        book = self._books[iid]
        book.regime_signal = signal.signal_id  # the exit on a change is taken on this signal
        self._set_regime(iid, book, regime_of_label(signal.value.label), signal.ts_init)

    def _set_regime(self, iid: InstrumentId, book: _Book, regime: Regime, ts_ns: int) -> bool:
        """True if the regime changed (and the old sub-logic's position is being closed)."""
        if regime is book.regime:
            return False
        self.regime_changes += 1
        book.regime = regime
        if self.net_position(iid) != 0 and self.may_trade(ts_ns):
            self.flatten(iid, book.regime_signal)
        return True

    # bars -------------------------------------------------------------------------------------

    def on_bar(self, bar: Bar) -> None:
        iid = self.instrument_of.get(bar.bar_type)
        if iid is None:
            return
        book = self._books[iid]
        close = bar.close.as_double()
        book.fast.update_raw(close)
        book.slow.update_raw(close)
        book.bands.update_raw(close, close, close)
        if not self._from_signals:
            regime = book.volatility.update(close)
            if self._set_regime(iid, book, regime, bar.ts_event):
                return  # the exit is out; the new sub-logic decides from the next bar on
        if not self.may_trade(bar.ts_event):
            return
        net = self.net_position(iid)
        held = (net > 0) - (net < 0)
        target = self._target(book, held, close)
        if target is None or target == held:
            return
        if held != 0:
            self.flatten(iid, book.regime_signal)
        if target != 0:
            side = OrderSide.BUY if target > 0 else OrderSide.SELL
            self._submit_market(iid, side, self.quantity(iid), book.regime_signal)

    def _target(self, book: _Book, held: int, close: float) -> int | None:
        """The side the regime's sub-logic wants; None: not warm yet, keep what is held."""
        if book.regime is Regime.TRENDING:
            if not book.slow.initialized:
                return None
            gap = book.fast.value - book.slow.value
            return held if gap == 0 else (1 if gap > 0 else -1)
        if book.regime is Regime.RANGING:
            if not book.bands.initialized:
                return None
            std = book.bands.upper - book.bands.middle
            if not std > 0:
                return held
            z = (close - book.bands.middle) / std
            return reversion_target(held, z, self._entry_z)
        return 0

    def on_reset(self) -> None:
        for book in self._books.values():
            book.reset()
        self.regime_changes = 0
