"""A deterministic synthetic market: regime-switching minute bars for the demo and tests.

Every instrument follows one shared market regime (trending, mean-reverting, high-volatility)
that switches at random times, and their shocks share a common factor, so they are mildly
correlated. Same configuration and seed, same bars, bit for bit. Besides its 1-minute bars
the market can be written at coarser time bars (``bar_specs``, e.g. 5-MINUTE-LAST), aggregated
from those same 1-minute bars, so strategies of different speeds trade one consistent market.
"""

import hashlib
import math
from dataclasses import dataclass, field
from decimal import Decimal
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.instruments import AssetClass, InstrumentSpec
from quantdesk.domain.market_data import BarSpec, IngestSummary
from quantdesk.domain.time import describe_ns, in_ts_range, ts_range_text
from quantdesk.services.bar_aggregation import (
    BASE_BAR_SPEC,
    aggregate_minute_bars,
    check_aggregatable,
)
from quantdesk.services.columns import BarColumns, RawBarColumns
from quantdesk.services.ingest import BarIngestService
from quantdesk.services.instruments import InstrumentService
from quantdesk.services.ports import ProgressReporter, SilentProgress
from quantdesk.services.synthetic_options import OptionChainConfig, option_chain

MINUTE_NS = 60_000_000_000
DEFAULT_START_NS = 1_704_067_200_000_000_000  # 2024-01-01T00:00:00Z
SYNTHETIC_VENUE = "SIM"


class Regime(IntEnum):
    TRENDING = 0
    MEAN_REVERTING = 1
    HIGH_VOLATILITY = 2


@dataclass(frozen=True)
class SyntheticMarketConfig:
    instruments: int = 3
    days: int = 10
    seed: int = 7
    start_ns: int = DEFAULT_START_NS
    mean_regime_bars: int = 1_440
    correlation: float = 0.3
    bar_specs: tuple[BarSpec, ...] = ()  # written besides 1-MINUTE-LAST, aggregated from it
    options_on: tuple[str, ...] = ()  # instruments (SYN01.SIM, ...) to list an options chain on
    option_chain: OptionChainConfig = field(default_factory=OptionChainConfig)

    def __post_init__(self) -> None:
        if not 1 <= self.instruments <= 99:
            raise ValueError("instruments must be between 1 and 99")
        if self.days < 1:
            raise ValueError("days must be >= 1")
        if not 0.0 <= self.correlation < 1.0:
            raise ValueError("correlation must be in [0, 1)")
        last_ns = self.start_ns + self.bars_per_instrument * MINUTE_NS
        if not (in_ts_range(self.start_ns) and in_ts_range(last_ns)):
            raise InvalidInputError(
                f"a synthetic market from {describe_ns(self.start_ns)} for {self.days} days "
                f"does not fit the valid time range {ts_range_text()}",
                hint="choose a start and a length inside that range",
            )
        for spec in self.bar_specs:
            minutes = check_aggregatable(spec)
            if minutes > self.bars_per_instrument:
                raise InvalidInputError(
                    f"bar spec {spec}: a bar of {minutes} minutes is longer than the "
                    f"{self.days} day(s) of the synthetic market",
                    hint="ask for more days or a shorter bar",
                )

        known = {synthetic_instrument(i).instrument_id for i in range(self.instruments)}
        unknown = sorted(set(self.options_on) - known)
        if unknown:
            raise InvalidInputError(
                f"options on {', '.join(unknown)}: not an instrument of this synthetic market",
                hint=f"it lists {', '.join(sorted(known))}",
            )
        last_expiry = max(self.option_chain.expiry_days) if self.options_on else 0
        if last_expiry > self.days:
            raise InvalidInputError(
                f"an option expiring {last_expiry} days after the start outlives the "
                f"{self.days}-day market",
                hint="ask for more days or earlier expiries",
            )

    @property
    def extra_bar_specs(self) -> list[BarSpec]:
        """The coarser bar specs to write, once each, in the order given (1-minute excluded)."""
        return list(dict.fromkeys(s for s in self.bar_specs if s != BASE_BAR_SPEC))

    @property
    def bars_per_instrument(self) -> int:
        return self.days * 1_440

    def describe(self) -> str:
        return (
            f"synthetic:seed={self.seed};instruments={self.instruments};days={self.days};"
            f"start_ns={self.start_ns};mean_regime_bars={self.mean_regime_bars};"
            f"correlation={self.correlation}"
        )

    def describe_chain(self) -> str:
        chain = self.option_chain
        return (
            f"{self.describe()};options:strikes={chain.strikes};step={chain.strike_step_pct};"
            f"expiry_days={','.join(map(str, chain.expiry_days))};vol={chain.volatility};"
            f"rate={chain.rate};multiplier={chain.multiplier};tick={chain.tick_size}"
        )


@dataclass(frozen=True, eq=False)
class SyntheticSeries:
    instrument: InstrumentSpec
    bars: BarColumns
    regimes: npt.NDArray[np.int8]


_DRIFT = (3e-5, 0.0, 0.0)
_SIGMA = (5e-4, 4e-4, 1.5e-3)
_REVERSION = (0.0, 0.02, 0.0)
_FIELDS = ("open", "high", "low", "close", "volume")


def synthetic_instrument(index: int) -> InstrumentSpec:
    return InstrumentSpec(
        instrument_id=f"SYN{index + 1:02d}.{SYNTHETIC_VENUE}",
        asset_class=AssetClass.EQUITY,
        currency="USD",
        tick_size=Decimal("0.01"),
    )


def generate_market(config: SyntheticMarketConfig) -> list[SyntheticSeries]:
    rng = np.random.default_rng(config.seed)
    n = config.bars_per_instrument
    regimes = _regime_path(rng, n, config.mean_regime_bars)
    common = rng.standard_normal(n)
    ts = config.start_ns + MINUTE_NS * np.arange(1, n + 1, dtype=np.int64)
    out = []
    for index in range(config.instruments):
        own = rng.standard_normal(n)
        shocks = math.sqrt(config.correlation) * common + math.sqrt(1 - config.correlation) * own
        directions = rng.choice(np.array([-1.0, 1.0]), size=n)
        start_price = float(rng.uniform(50.0, 200.0))
        log_path = _log_price_path(regimes, shocks, directions, math.log(start_price))
        instrument = synthetic_instrument(index)
        bars = _bars_from_path(rng, ts, log_path, regimes, instrument)
        out.append(SyntheticSeries(instrument=instrument, bars=bars, regimes=regimes))
    return out


def _regime_path(rng: np.random.Generator, n: int, mean_bars: int) -> npt.NDArray[np.int8]:
    regimes = np.empty(n, dtype=np.int8)
    position, current = 0, int(rng.integers(3))
    while position < n:
        length = int(rng.geometric(1.0 / mean_bars))
        regimes[position : position + length] = current
        position += length
        current = (current + 1 + int(rng.integers(2))) % 3
    return regimes


def _log_price_path(
    regimes: npt.NDArray[np.int8],
    shocks: npt.NDArray[np.float64],
    directions: npt.NDArray[np.float64],
    start: float,
) -> npt.NDArray[np.float64]:
    """x_t = x_{t-1} + drift - kappa (x_{t-1} - anchor) + sigma eps, per regime episode."""
    path = np.empty(regimes.shape[0] + 1, dtype=np.float64)
    x, anchor, direction, previous = start, start, 1.0, -1
    path[0] = x
    for t, (regime, shock, draw) in enumerate(
        zip(regimes.tolist(), shocks.tolist(), directions.tolist(), strict=True)
    ):
        if regime != previous:
            anchor, direction, previous = x, draw, regime
        x += _DRIFT[regime] * direction - _REVERSION[regime] * (x - anchor) + _SIGMA[regime] * shock
        path[t + 1] = x
    return path


def _bars_from_path(
    rng: np.random.Generator,
    ts: npt.NDArray[np.int64],
    log_path: npt.NDArray[np.float64],
    regimes: npt.NDArray[np.int8],
    instrument: InstrumentSpec,
) -> BarColumns:
    tick = float(instrument.tick_size)
    digits = instrument.price_precision
    prices = np.round(np.round(np.exp(log_path) / tick) * tick, digits)
    open_, close = prices[:-1], prices[1:]
    sigma = np.asarray(_SIGMA)[regimes]
    wick_up = np.abs(rng.standard_normal(ts.shape[0])) * sigma * 0.5
    wick_down = np.abs(rng.standard_normal(ts.shape[0])) * sigma * 0.5
    high = np.round(np.ceil(np.maximum(open_, close) * (1 + wick_up) / tick) * tick, digits)
    low = np.round(np.floor(np.minimum(open_, close) * (1 - wick_down) / tick) * tick, digits)
    high = np.maximum(high, np.maximum(open_, close))
    low = np.maximum(np.minimum(low, np.minimum(open_, close)), tick)
    move = np.abs(np.diff(log_path)) / sigma
    volume = np.round(np.exp(rng.normal(math.log(500.0), 0.4, ts.shape[0])) * (1.0 + move))
    return BarColumns(ts_ns=ts, open=open_, high=high, low=low, close=close, volume=volume)


def fingerprint(series: SyntheticSeries) -> str:
    return bars_fingerprint(series.bars)


def bars_fingerprint(bars: BarColumns) -> str:
    digest = hashlib.sha256()
    for column in (bars.ts_ns, *(bars.field(f) for f in _FIELDS)):
        digest.update(np.ascontiguousarray(column).tobytes())
    return digest.hexdigest()


class SyntheticMarketService:
    """Writes a synthetic market into the catalog through the same validated ingest path."""

    def __init__(self, instruments: InstrumentService, ingest: BarIngestService) -> None:
        self._instruments = instruments
        self._ingest = ingest

    def synthesize(
        self, config: SyntheticMarketConfig, progress: ProgressReporter | None = None
    ) -> list[IngestSummary]:
        progress = progress or SilentProgress()
        with progress.task("generate synthetic market", total=config.instruments) as advance:
            market = generate_market(config)
            advance(config.instruments)
        summaries = []
        for series in market:
            self._instruments.add(series.instrument)
            source = f"{config.describe()};instrument={series.instrument.instrument_id}"
            summaries.append(
                self._write(series.instrument, series.bars, BASE_BAR_SPEC, source, progress)
            )
            for spec in config.extra_bar_specs:
                bars = aggregate_minute_bars(series.bars, spec)
                if len(bars) == 0:
                    raise InvalidInputError(
                        f"bar spec {spec}: the synthetic market holds no complete bar of it",
                        hint="ask for more days or a shorter bar",
                    )
                summaries.append(
                    self._write(
                        series.instrument, bars, spec, f"{source};bar_spec={spec}", progress
                    )
                )
            if series.instrument.instrument_id in config.options_on:
                summaries.extend(self._write_chain(config, series, progress))
        return summaries

    def _write_chain(
        self, config: SyntheticMarketConfig, series: SyntheticSeries, progress: ProgressReporter
    ) -> list[IngestSummary]:
        """The underlying's options chain: each contract defined, then its 1-minute bars."""
        summaries = []
        for option in option_chain(series.instrument, series.bars, config.option_chain):
            self._instruments.add(option.instrument)
            source = f"{config.describe_chain()};instrument={option.instrument.instrument_id}"
            summaries.append(
                self._write(option.instrument, option.bars, BASE_BAR_SPEC, source, progress)
            )
        return summaries

    def _write(
        self,
        instrument: InstrumentSpec,
        bars: BarColumns,
        spec: BarSpec,
        source: str,
        progress: ProgressReporter,
    ) -> IngestSummary:
        return self._ingest.ingest_columns(
            RawBarColumns.from_bars(bars),
            instrument=instrument,
            bar_spec=spec,
            source=source,
            source_sha256=bars_fingerprint(bars),
            progress=progress,
        )
