"""A delta-hedged short straddle: the desk's example of an options-aware strategy.

It sells ``contracts`` at-the-money calls and puts of the nearest expiry with at least
``min_days_to_expiry`` left, and keeps the book's delta near zero by trading the underlying:
every ``hedge_every_bars`` bars of the underlying it values each option's delta (Black-Scholes
on a stock, Black-76 on a future, at the rate ``rate``, with the implied volatility solved from
the option's last close; or, when the definition subscribes to VOLATILITY_FORECAST signals
(``signal_types``), the latest forecast's annualised volatility for the underlying) and, when
the net delta is more than ``hedge_band`` contracts' worth of underlying, trades the
underlying back to flat delta. The options settle at expiry
(the engine's expiry close, see docs/futures.md); the strategy then sells the next straddle.
Every order goes through the risk gate like any family's. A custom plug-in, shipped built in:

    strategy_path: quantdesk.strategies.delta_hedged_straddle:DeltaHedgedStraddle
    config_path:   quantdesk.strategies.delta_hedged_straddle:DeltaHedgedStraddleConfig
"""

from dataclasses import dataclass
from decimal import Decimal

from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.enums import OptionKind as EngineOptionKind
from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.instruments import FuturesContract, OptionContract

from quantdesk.domain.backtest_checks import ParameterValueError
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.options import (
    FUTURE_CARRY,
    OptionKind,
    greeks,
    implied_delta,
    stock_carry,
    year_fraction,
)
from quantdesk.domain.signals import AISignal, SignalType, VolatilityForecastValue
from quantdesk.strategies.base import QuantdeskStrategy, QuantdeskStrategyConfig

DAY_NS = 86_400_000_000_000


class DeltaHedgedStraddleConfig(QuantdeskStrategyConfig, frozen=True, kw_only=True):
    underlying_id: str
    option_ids: list[str]
    bar_spec: str = "1-MINUTE-LAST"
    contracts: int = 1
    min_days_to_expiry: float = 2.0
    hedge_band: float = 0.25
    hedge_every_bars: int = 15
    rate: float = 0.0


@dataclass(frozen=True, slots=True)
class _Contract:
    instrument_id: InstrumentId
    kind: OptionKind
    strike: float
    expiration_ns: int
    multiplier: float


class DeltaHedgedStraddle(QuantdeskStrategy):
    def __init__(self, config: DeltaHedgedStraddleConfig) -> None:
        if config.contracts < 1:
            raise ParameterValueError("contracts", "must be at least 1")
        if not config.option_ids:
            raise ParameterValueError("option_ids", "must name at least one call and one put")
        if config.hedge_every_bars < 1 or config.hedge_band <= 0:
            raise ParameterValueError("hedge_band", "hedge_band > 0 and hedge_every_bars >= 1")
        super().__init__(config)
        self._underlying = InstrumentId.from_str(config.underlying_id)
        self._options = [InstrumentId.from_str(i) for i in config.option_ids]
        self._bar_types = {
            i: BarType.from_str(f"{i}-{config.bar_spec}-EXTERNAL")
            for i in (self._underlying, *self._options)
        }
        self._contracts: dict[InstrumentId, _Contract] = {}
        self._closes: dict[InstrumentId, float] = {}
        self._carry = 0.0
        self._bars = 0
        self._forecast: float | None = None  # the latest VOLATILITY_FORECAST, if subscribed

    def on_start(self) -> None:
        super().on_start()
        underlying = self.cache.instrument(self._underlying)
        if underlying is None:
            raise RuntimeError(f"instrument {self._underlying} is not in the cache")
        on_future = isinstance(underlying, FuturesContract)
        self._carry = FUTURE_CARRY if on_future else stock_carry(self.config.rate)
        for option_id in self._options:
            option = self.cache.instrument(option_id)
            if not isinstance(option, OptionContract):
                raise RuntimeError(f"{option_id} is not an option in the cache")
            call = option.option_kind == EngineOptionKind.CALL
            self._contracts[option_id] = _Contract(
                instrument_id=option_id,
                kind=OptionKind.CALL if call else OptionKind.PUT,
                strike=option.strike_price.as_double(),
                expiration_ns=int(option.expiration_ns),
                multiplier=option.multiplier.as_double(),
            )
        for bar_type in self._bar_types.values():
            self.subscribe_bars(bar_type)

    def stop_trading_instruments(self) -> list[InstrumentId]:
        return [self._underlying, *self._options]

    def signal_instruments(self) -> frozenset[str]:
        return frozenset({self._underlying.value})

    def on_signal(self, signal: AISignal) -> None:
        value = signal.value
        if signal.signal_type is SignalType.VOLATILITY_FORECAST:
            assert isinstance(value, VolatilityForecastValue)  # by AISignal's validation
            self._forecast = value.annualized_volatility

    # data -------------------------------------------------------------------------------------

    def on_bar(self, bar: Bar) -> None:
        instrument_id = bar.bar_type.instrument_id
        self._closes[instrument_id] = bar.close.as_double()
        if instrument_id != self._underlying:
            return
        self._bars += 1
        now = bar.ts_event
        if (self._bars - 1) % self.config.hedge_every_bars or not self.may_trade(now):
            return  # decides every hedge_every_bars bars, from the first on
        if not self._open_options(now):
            self._sell_straddle(now)
        self._hedge(now)

    # decisions ------------------------------------------------------------------------------

    def _open_options(self, now: int) -> list[_Contract]:
        """Contracts held and not yet expired (an expired one is being settled)."""
        return [
            c
            for c in self._contracts.values()
            if c.expiration_ns > now and self.net_position(c.instrument_id) != 0
        ]

    def _sell_straddle(self, now: int) -> None:
        spot = self._closes.get(self._underlying)
        if spot is None:
            return
        earliest = now + int(self.config.min_days_to_expiry * DAY_NS)
        expiries = sorted(
            {c.expiration_ns for c in self._contracts.values() if c.expiration_ns >= earliest}
        )
        for expiry in expiries:
            listed = [c for c in self._contracts.values() if c.expiration_ns == expiry]
            strikes = {c.strike for c in listed if c.kind is OptionKind.CALL} & {
                c.strike for c in listed if c.kind is OptionKind.PUT
            }
            if not strikes:
                continue
            strike = min(strikes, key=lambda k: (abs(k - spot), k))
            legs = [c for c in listed if c.strike == strike]
            if any(c.instrument_id not in self._closes for c in legs):
                return  # not priced yet: the next bar
            for leg in legs:
                self._trade(leg.instrument_id, -Decimal(self.config.contracts))
            return

    def _hedge(self, now: int) -> None:
        """Trade the underlying back to flat delta when the book is outside the band."""
        spot = self._closes.get(self._underlying)
        if spot is None:
            return
        delta = float(self.net_position(self._underlying))
        unit = 1.0
        for contract in self._open_options(now):
            held = float(self.net_position(contract.instrument_id))
            delta += held * contract.multiplier * self._delta(contract, spot, now)
            unit = contract.multiplier
        if abs(delta) <= self.config.hedge_band * unit:
            return
        instrument = self.cache.instrument(self._underlying)
        size = instrument.make_qty(abs(delta)).as_decimal()
        if size > 0:
            self._trade(self._underlying, size if delta < 0 else -size)

    def _delta(self, contract: _Contract, spot: float, now: int) -> float:
        """The option's delta per unit: at the forecast volatility when subscribed, else as the
        risk gate values it (``implied_delta``: the volatility implied from its last close,
        held to the solver's range); 0 before its first close or for a price no volatility
        explains (above the no-arbitrage ceiling)."""
        t = year_fraction(now, contract.expiration_ns)
        rate, carry, k = self.config.rate, self._carry, contract.strike
        if self._forecast is not None:
            sigma = self._forecast
            return greeks(contract.kind, s=spot, k=k, t=t, sigma=sigma, r=rate, b=carry).delta
        premium = self._closes.get(contract.instrument_id)
        if premium is None:
            return 0.0
        try:
            return implied_delta(premium, contract.kind, s=spot, k=k, t=t, r=rate, b=carry)
        except InvalidInputError:
            return 0.0

    def _trade(self, instrument_id: InstrumentId, signed: Decimal) -> None:
        side = OrderSide.BUY if signed > 0 else OrderSide.SELL
        quantity = self.cache.instrument(instrument_id).make_qty(abs(signed))
        self._submit_market(instrument_id, side, quantity)
