"""A synthetic options chain on a synthetic underlying, for the demo, tests and benches.

Every contract of the chain is priced from the underlying's own minute bars with one model
(``domain/options.py``: Black-Scholes with cost of carry ``b = r``, no dividends) and one flat
volatility, so calls and puts of a strike and expiry obey put-call parity up to the tick
rounding of their prices, and an implied volatility solved from any bar gives back the
chain's volatility up to that rounding.

- Expiries: ``expiry_days`` after the market's start, each at a bar close of the underlying.
- Strikes: ``strikes`` per expiry, centred on the underlying's first open rounded to the
  strike step (``strike_step_pct`` of it, rounded to a whole price, at least 1), one step
  apart. Instrument ids name the expiry day, the strike's rank from the lowest (K1) and the
  kind: ``SYN01-20240108-K3-C.SIM`` is the middle of five strikes, at the money at listing.
  The rank, not the strike, keeps one id per contract whatever the underlying's first price
  (a definition written for the demo's market also names the contracts of a shorter one).
- Bars: one per underlying bar up to and including the expiry's. An option's price is
  monotone in the underlying's (a call rises with it, a put falls), so the option bar's open,
  high, low and close are the prices at the underlying's open, high (put: low), low (put:
  high) and close, with the time to expiry at the bar's close. Prices are rounded to the
  option's tick and floored at one tick (a bar price must be positive): a far out-of-the-money
  option at expiry shows one tick, not 0; settlement at expiry pays the intrinsic value from
  the underlying, not this floor. Volume is a constant ``volume`` per bar.
"""

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np

from quantdesk.domain.contract_terms import OptionKind
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.instruments import AssetClass, InstrumentSpec
from quantdesk.domain.options import YEAR_NS, price
from quantdesk.services.columns import BarColumns, Float64Array

DAY_NS = 86_400_000_000_000
MAX_CONTRACTS = 200


@dataclass(frozen=True)
class OptionChainConfig:
    """Which contracts to list on one underlying and how to price them."""

    strikes: int = 5
    strike_step_pct: float = 0.05
    expiry_days: tuple[int, ...] = (7, 14)
    volatility: float = 0.4
    rate: float = 0.0
    multiplier: int = 100
    tick_size: Decimal = Decimal("0.01")
    volume: float = 100.0

    def __post_init__(self) -> None:
        if not 1 <= self.strikes <= 21:
            raise InvalidInputError(f"strikes {self.strikes} must be between 1 and 21")
        if not 0.0 < self.strike_step_pct <= 0.5:
            raise InvalidInputError(f"strike_step_pct {self.strike_step_pct} is not in (0, 0.5]")
        if not self.expiry_days or any(d < 1 for d in self.expiry_days):
            raise InvalidInputError(f"expiry_days {self.expiry_days} must be whole days >= 1")
        if len(self.expiry_days) * self.strikes * 2 > MAX_CONTRACTS:
            raise InvalidInputError(f"a chain of more than {MAX_CONTRACTS} contracts")
        if not (0.01 <= self.volatility <= 5.0 and math.isfinite(self.rate)):
            raise InvalidInputError(
                f"volatility {self.volatility} must lie in [0.01, 5] and rate be finite"
            )


@dataclass(frozen=True, eq=False)
class OptionSeries:
    instrument: InstrumentSpec
    bars: BarColumns


def option_chain(
    underlying: InstrumentSpec, bars: BarColumns, config: OptionChainConfig
) -> list[OptionSeries]:
    """The chain's contracts and their bars, expiry by expiry, strike by strike, call first."""
    if len(bars) == 0:
        raise InvalidInputError(f"{underlying.instrument_id} has no bars to price options on")
    start_ns = int(bars.ts_ns[0]) - _bar_length(bars)
    spot = float(bars.open[0])
    step = max(1, round(spot * config.strike_step_pct))
    centre = max(step, round(spot / step) * step)
    half = config.strikes // 2
    strikes = [centre + step * (i - half) for i in range(config.strikes)]
    out = []
    for days in config.expiry_days:
        expiry_ns = start_ns + days * DAY_NS
        last = int(np.searchsorted(bars.ts_ns, expiry_ns, side="right"))
        if last == 0 or int(bars.ts_ns[last - 1]) != expiry_ns:
            raise InvalidInputError(
                f"an expiry {days} days after the start is not a bar close of "
                f"{underlying.instrument_id} (its bars end {int(bars.ts_ns[-1])} ns)",
                hint="list expiries within the underlying's bars",
            )
        for rank, strike in enumerate(strikes, start=1):
            if strike <= 0:
                continue
            for kind in (OptionKind.CALL, OptionKind.PUT):
                spec = _contract(underlying, kind, rank, strike, expiry_ns, config)
                out.append(OptionSeries(spec, _priced(bars, last, spec, config)))
    return out


def _bar_length(bars: BarColumns) -> int:
    return int(bars.ts_ns[1] - bars.ts_ns[0]) if len(bars) > 1 else 60_000_000_000


def _contract(
    underlying: InstrumentSpec,
    kind: OptionKind,
    rank: int,
    strike: int,
    expiry_ns: int,
    config: OptionChainConfig,
) -> InstrumentSpec:
    day = datetime.fromtimestamp(expiry_ns // 1_000_000_000, tz=UTC).strftime("%Y%m%d")
    letter = "C" if kind is OptionKind.CALL else "P"
    return InstrumentSpec(
        instrument_id=f"{underlying.symbol}-{day}-K{rank}-{letter}.{underlying.venue}",
        asset_class=AssetClass.OPTION,
        underlying=underlying.instrument_id,
        option_kind=kind,
        strike=Decimal(strike),
        currency=underlying.currency,
        tick_size=config.tick_size,
        multiplier=Decimal(config.multiplier),
        expiration_ns=expiry_ns,
    )


def _priced(
    bars: BarColumns, last: int, spec: InstrumentSpec, config: OptionChainConfig
) -> BarColumns:
    assert spec.option_kind is not None and spec.strike is not None  # built just above
    kind, strike = spec.option_kind, float(spec.strike)
    assert spec.expiration_ns is not None
    ts = bars.ts_ns[:last]
    years = (spec.expiration_ns - ts) / YEAR_NS
    call = kind is OptionKind.CALL
    fields = {
        "open": bars.open[:last],
        "high": bars.high[:last] if call else bars.low[:last],
        "low": bars.low[:last] if call else bars.high[:last],
        "close": bars.close[:last],
    }
    tick = float(config.tick_size)
    digits = spec.price_precision
    sigma, rate = config.volatility, config.rate
    priced: dict[str, Float64Array] = {}
    for name, underlying in fields.items():
        values = np.fromiter(
            (
                price(kind, s=s, k=strike, t=t, sigma=sigma, r=rate, b=rate)
                for s, t in zip(underlying.tolist(), years.tolist(), strict=True)
            ),
            dtype=np.float64,
            count=last,
        )
        priced[name] = np.round(np.maximum(np.round(values / tick), 1.0) * tick, digits)
    return BarColumns(
        ts_ns=ts.copy(),
        open=priced["open"],
        high=np.maximum.reduce([priced["high"], priced["open"], priced["close"]]),
        low=np.minimum.reduce([priced["low"], priced["open"], priced["close"]]),
        close=priced["close"],
        volume=np.full(last, config.volume, dtype=np.float64),
    )
