"""What every built-in producer shares: the request, the cadence, the signal's identity.

A producer reads bar closes from the catalog and emits a signal every ``every`` bars, counted
from the first bar its model can speak about (its warm-up). Each signal describes the close
of the last bar it used (``ts_event``) and becomes known a declared ``latency_ns`` later
(``ts_init``), so a replayed strategy always sees the bar before the signal computed from it,
whatever order the engine gives to equal timestamps.

Identity is deterministic: ``signal_id`` is a uuid5 over the producer, its model version, its
parameters, the instrument(s), the first bar of the data and ``ts_event``. Producing again over
the same data gives the same ids (the buffer drops the repeats); producing over a longer range
keeps the ids of the signals both runs share.
"""

import hashlib
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Protocol, Self

import numpy as np

from quantdesk.domain.errors import InvalidInputError, NotFoundError
from quantdesk.domain.market_data import BarSpec, bar_type_id
from quantdesk.domain.signals import AISignal, Provenance, SignalType, SignalValue
from quantdesk.services.columns import Float64Array, Int64Array
from quantdesk.services.ports import MarketDataCatalog

SIGNAL_NAMESPACE = uuid.UUID("6fb9904d-dde7-4728-8a6c-e4c1f83b4acd")
MAX_NS = 2**63 - 1
YEAR_NS = 365.25 * 86_400_000_000_000
DEFAULT_LATENCY_NS = 1_000_000  # 1 ms after the bar close: after the bar, long before the next


@dataclass(frozen=True)
class ProduceRequest:
    """What to produce signals about: an instrument (or a pair), bars, a range, a cadence."""

    instrument_id: str
    start_ns: int = 0
    end_ns: int = MAX_NS
    bar_spec: str = "1-MINUTE-LAST"
    every: int | None = None  # bars between signals; None: the producer's default
    other_instrument_id: str | None = None
    headlines: Path | None = None

    def spec(self) -> BarSpec:
        try:
            return BarSpec.parse(self.bar_spec)
        except ValueError as error:
            raise InvalidInputError(str(error)) from error

    def cadence(self, default: int) -> int:
        every = default if self.every is None else self.every
        if every < 1:
            raise InvalidInputError(f"every must be at least 1 bar, not {every}")
        return every


class SignalProducer(Protocol):
    """A built-in producer: declared identity and limits, and ``produce``."""

    name: str
    signal_type: SignalType
    source_model: str
    model_version: str
    max_age_ns: int
    latency_ns: int
    default_every: int

    def produce(self, request: ProduceRequest) -> list[AISignal]: ...


@dataclass(frozen=True, eq=False)
class CloseSeries:
    """Bar closes of one bar type in a range, oldest first."""

    bar_type: str
    ts_ns: Int64Array
    close: Float64Array

    def __len__(self) -> int:
        return int(self.ts_ns.shape[0])

    def log_returns(self) -> Float64Array:
        """``r[j] = log(close[j + 1] / close[j])``: the return that ends at bar ``j + 1``."""
        returns: Float64Array = np.diff(np.log(self.close))
        return returns


def load_closes(
    catalog: MarketDataCatalog, instrument_id: str, spec: BarSpec, start_ns: int, end_ns: int
) -> CloseSeries:
    if catalog.instrument(instrument_id) is None:
        raise NotFoundError(
            f"instrument {instrument_id!r} is not defined", hint="quantdesk instruments list"
        )
    bar_type = bar_type_id(instrument_id, spec)
    ts, close = catalog.read_closes(bar_type, start_ns, end_ns)
    if close.shape[0] and not bool(np.all(close > 0)):
        raise InvalidInputError(f"{bar_type} holds a close <= 0: log returns are undefined")
    return CloseSeries(bar_type, np.asarray(ts, dtype=np.int64), np.asarray(close, np.float64))


def load_enough_closes(
    catalog: MarketDataCatalog,
    request: ProduceRequest,
    spec: BarSpec,
    producer: str,
    needed: int,
    why: str,
) -> CloseSeries:
    """The request's closes, refused when fewer than ``needed``: every producer over one
    instrument loads and checks its warm-up the same way, so its errors read the same."""
    series = load_closes(catalog, request.instrument_id, spec, request.start_ns, request.end_ns)
    require_bars(producer, series.bar_type, len(series), needed, why)
    return series


def emission_indices(n_bars: int, first: int, every: int) -> Int64Array:
    """Bar indices ``first, first + every, ...`` below ``n_bars``."""
    indices: Int64Array = np.arange(first, n_bars, every, dtype=np.int64)
    return indices


def require_bars(producer: str, bar_type: str, available: int, needed: int, why: str) -> None:
    if available < needed:
        raise InvalidInputError(
            f"{producer} needs at least {needed} bars of {bar_type} in the range ({why}); "
            f"the catalog holds {available}",
            hint="widen the time range, or produce over more data",
            code="range_too_short",
            data={
                "producer": producer,
                "bar_type": bar_type,
                "available": available,
                "needed": needed,
            },
        )


def periods_per_year(spec: BarSpec, override: float | None) -> float:
    """Bars per year for annualising, assuming continuous trading unless overridden."""
    if override is not None:
        if not override > 0:
            raise InvalidInputError(f"periods per year must be > 0, not {override}")
        return override
    interval = spec.interval_ns
    if interval is None:
        raise InvalidInputError(
            f"{spec} bars have no fixed length, so volatility cannot be annualised from it",
            hint="give periods_per_year",
        )
    return YEAR_NS / interval


def parameters_digest(parameters: Mapping[str, object]) -> str:
    text = ";".join(f"{k}={parameters[k]!r}" for k in sorted(parameters))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class SignalStamp:
    """Builds the signals of one production run: identity, timing and provenance."""

    producer: str
    signal_type: SignalType
    source_model: str
    model_version: str
    latency_ns: int
    instrument_id: str
    parameters: Mapping[str, object]
    inputs: tuple[str, ...]  # bar types (and sources) the run reads
    data_start_ns: int  # first bar of the run's data: part of every id

    @classmethod
    def for_run(
        cls,
        producer: SignalProducer,
        request: ProduceRequest,
        parameters: Mapping[str, object],
        inputs: tuple[str, ...],
        data_start_ns: int,
    ) -> Self:
        """The stamp of one ``produce`` call: identity and latency come from the producer's
        declaration, so a signal can only carry what its producer declares."""
        return cls(
            producer=producer.name,
            signal_type=producer.signal_type,
            source_model=producer.source_model,
            model_version=producer.model_version,
            latency_ns=producer.latency_ns,
            instrument_id=request.instrument_id,
            parameters=parameters,
            inputs=inputs,
            data_start_ns=data_start_ns,
        )

    @classmethod
    def for_series(
        cls,
        producer: SignalProducer,
        request: ProduceRequest,
        parameters: Mapping[str, object],
        series: CloseSeries,
        *extra_inputs: str,
    ) -> Self:
        """The stamp of a run over one instrument's bars: they are its first input, and their
        first bar is part of every id."""
        inputs = (f"bar_type:{series.bar_type}", *extra_inputs)
        return cls.for_run(producer, request, parameters, inputs, int(series.ts_ns[0]))

    @cached_property
    def trace_id(self) -> str:
        """One trace per production run: every signal of the run carries it."""
        name = "|".join(
            (
                "trace",
                self.source_model,
                self.model_version,
                parameters_digest(self.parameters),
                *self.inputs,
                str(self.data_start_ns),
            )
        )
        return str(uuid.uuid5(SIGNAL_NAMESPACE, name))

    def signal_id(self, ts_event: int) -> str:
        name = "|".join(
            (
                self.source_model,
                self.model_version,
                parameters_digest(self.parameters),
                self.instrument_id,
                *self.inputs,
                str(self.data_start_ns),
                str(ts_event),
            )
        )
        return str(uuid.uuid5(SIGNAL_NAMESPACE, name))

    def signal(
        self,
        *,
        ts_event: int,
        first_used_ns: int,
        value: SignalValue,
        confidence: float,
        metadata: Mapping[str, str] | None = None,
        extra_inputs: tuple[str, ...] = (),
    ) -> AISignal:
        if not math.isfinite(confidence):
            raise ValueError(f"{self.producer}: confidence {confidence} is not finite")
        derived = (*self.inputs, *extra_inputs, f"bars:{first_used_ns}..{ts_event}")
        return AISignal(
            signal_id=self.signal_id(ts_event),
            signal_type=self.signal_type,
            instrument_id=self.instrument_id,
            ts_event=ts_event,
            ts_init=ts_event + self.latency_ns,
            confidence=min(1.0, max(0.0, float(confidence))),
            value=value,
            source_model=self.source_model,
            metadata={
                **{k: str(v) for k, v in self.parameters.items()},
                **{k: str(v) for k, v in (metadata or {}).items()},
            },
            provenance=Provenance(
                trace_id=self.trace_id,
                producer=self.producer,
                model_version=self.model_version,
                derived_from=derived,
            ),
        )
