"""Volatility breakout: enter when the close leaves its recent channel by an ATR multiple.

Per instrument, on each bar: the Donchian channel (NautilusTrader's ``DonchianChannel``) of
the *previous* ``channel_period`` bars, the current bar excluded (it is added after the
decision: no look-ahead), and ``ATR(atr_period)`` including the current bar (known at its
close). With ``m = breakout_atr_multiple`` and ``k = stop_atr_multiple``:

- flat: ``close > upper + m * ATR`` opens long, ``close < lower - m * ATR`` opens short;
- open: a trailing ATR stop, set at ``close -/+ k * ATR`` on entry, first checked against the
  close (a long exits at ``close <= stop``), then ratcheted (long: ``max(stop, close - k *
  ATR)``); a breakout the other way flips the position (close, then open: two orders). A new
  breakout after a stop-out may be entered at once: it needs a close beyond a fresh channel.

Size: ``trade_size``; with ``VOLATILITY_FORECAST`` among the definition's signal types it is
``trade_size * min(1, realised / forecast)`` rounded down to the size increment (never above
``trade_size``; a size rounding to 0 skips the entry). ``forecast``: the latest forecast for
the instrument still within its horizon (``ts_event + horizon_ns``), annualised; none: full
size. ``realised``: the annualised root mean square of the last ``channel_period`` log
close-to-close returns (zero mean, as the volatility producers model them), annualised with
the bar step assuming continuous trading (like the producers).
"""

import math
from collections import deque
from decimal import ROUND_FLOOR, Decimal
from typing import ClassVar

from nautilus_trader.indicators import AverageTrueRange, DonchianChannel
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.events import OrderFilled
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.instruments import Instrument

from quantdesk.domain.backtest_checks import ParameterValueError
from quantdesk.domain.signals import AISignal, SignalType, VolatilityForecastValue
from quantdesk.domain.strategies.families import VolatilityBreakoutParameters
from quantdesk.strategies.base import FamilyConfig, FamilyStrategy, family_parameters


class VolatilityBreakoutConfig(FamilyConfig, frozen=True, kw_only=True):
    channel_period: int = 20
    atr_period: int = 14
    breakout_atr_multiple: float = 0.5
    stop_atr_multiple: float = 2.0
    trade_size: Decimal


YEAR_NS = 365 * 24 * 3600 * 1_000_000_000


def scaled_size(
    trade_size: Decimal, increment: Decimal, realised: float | None, forecast: float | None
) -> Decimal:
    """``trade_size * min(1, realised / forecast)`` rounded down to ``increment``; the full
    size without a forecast (or before any realised volatility is known)."""
    if forecast is None or realised is None or realised >= forecast:
        return trade_size
    units = (trade_size * Decimal(repr(realised / forecast)) / increment).to_integral_value(
        rounding=ROUND_FLOOR
    )
    return min(trade_size, units * increment)


class _Leg:
    """One instrument's indicators, returns window, forecast and position state."""

    __slots__ = (
        "atr",
        "channel",
        "forecast",
        "forecast_until",
        "iid",
        "instrument",
        "last_close",
        "net",
        "squares",
        "stop",
    )

    def __init__(self, iid: InstrumentId, channel_period: int, atr_period: int) -> None:
        self.iid = iid
        self.channel = DonchianChannel(channel_period)
        self.atr = AverageTrueRange(atr_period)
        self.squares: deque[float] = deque(maxlen=channel_period)
        self.instrument: Instrument | None = None
        self.reset()

    def reset(self) -> None:
        self.channel.reset()
        self.atr.reset()
        self.squares.clear()
        self.last_close = 0.0
        self.net = 0
        self.stop = 0.0
        self.forecast: float | None = None
        self.forecast_until = 0


class VolatilityBreakout(FamilyStrategy):
    quantity_parameters: ClassVar[frozenset[str]] = frozenset({"trade_size"})

    def __init__(self, config: VolatilityBreakoutConfig) -> None:
        family_parameters(VolatilityBreakoutParameters, config, "channel_period")
        super().__init__(config)
        self._breakout = config.breakout_atr_multiple
        self._stop_multiple = config.stop_atr_multiple
        self._trade_size = config.trade_size
        self._sized = SignalType.VOLATILITY_FORECAST.value in self._signal_types
        self._legs: dict[BarType, _Leg] = {
            self.bar_types[i]: _Leg(i, config.channel_period, config.atr_period)
            for i in self.instruments
        }
        self._by_iid = {leg.iid: leg for leg in self._legs.values()}
        self._bars_per_year = 0.0
        if self._sized:
            step = next(iter(self._legs)).spec.timedelta.value
            if step <= 0:
                raise ParameterValueError("bar_spec", "volatility sizing needs time bars")
            self._bars_per_year = YEAR_NS / step
        self.warmup_bars = max(config.channel_period + 1, config.atr_period)

    def on_start(self) -> None:
        super().on_start()
        for bar_type, leg in self._legs.items():
            leg.instrument = self.cache.instrument(leg.iid)
            self.register_indicator_for_bars(bar_type, leg.atr)
        self.subscribe_all_bars()

    def on_order_filled(self, event: OrderFilled) -> None:
        leg = self._by_iid[event.instrument_id]
        raw = event.last_qty.raw
        leg.net += raw if event.order_side == OrderSide.BUY else -raw

    def on_signal(self, signal: AISignal) -> None:
        value = signal.value
        if isinstance(value, VolatilityForecastValue):
            leg = self._by_iid[InstrumentId.from_str(signal.instrument_id)]
            leg.forecast = value.annualized_volatility
            leg.forecast_until = signal.ts_event + value.horizon_ns

    def on_bar(self, bar: Bar) -> None:
        leg = self._legs[bar.bar_type]
        close = bar.close.as_double()
        channel = leg.channel
        ready = channel.initialized and leg.atr.initialized
        upper, lower = channel.upper, channel.lower
        channel.update_raw(bar.high.as_double(), bar.low.as_double())
        if leg.last_close > 0:
            leg.squares.append(math.log(close / leg.last_close) ** 2)
        leg.last_close = close
        until = self._trade_until_ns
        if not ready or (until is not None and bar.ts_event >= until):
            return
        atr = leg.atr.value
        margin = self._breakout * atr
        up, down = close > upper + margin, close < lower - margin
        distance = self._stop_multiple * atr
        if leg.net > 0:
            if close <= leg.stop:
                self.flatten(leg.iid)
            elif down:
                self.flatten(leg.iid)
                self._enter(leg, OrderSide.SELL, close + distance, bar.ts_event)
            else:
                leg.stop = max(leg.stop, close - distance)
        elif leg.net < 0:
            if close >= leg.stop:
                self.flatten(leg.iid)
            elif up:
                self.flatten(leg.iid)
                self._enter(leg, OrderSide.BUY, close - distance, bar.ts_event)
            else:
                leg.stop = min(leg.stop, close + distance)
        elif up:
            self._enter(leg, OrderSide.BUY, close - distance, bar.ts_event)
        elif down:
            self._enter(leg, OrderSide.SELL, close + distance, bar.ts_event)

    def realised_volatility(self, leg: _Leg) -> float | None:
        """Annualised RMS of the window's log returns; None before the window is full."""
        squares = leg.squares
        if len(squares) < (squares.maxlen or 0):
            return None
        return math.sqrt(math.fsum(squares) / len(squares) * self._bars_per_year)

    def _enter(self, leg: _Leg, side: OrderSide, stop: float, ts_ns: int) -> None:
        assert leg.instrument is not None  # set in on_start
        size = self._trade_size
        if self._sized:
            forecast = leg.forecast if ts_ns < leg.forecast_until else None
            size = scaled_size(
                size,
                leg.instrument.size_increment.as_decimal(),
                self.realised_volatility(leg),
                forecast,
            )
            if size <= 0:
                return
        leg.stop = stop
        self._submit_market(leg.iid, side, leg.instrument.make_qty(size))

    def on_reset(self) -> None:
        for leg in self._legs.values():
            leg.reset()
