"""AI signals: the one format every producer speaks, and the pure checks a signal passes.

A signal is a market view (a regime, a correlation shift, a sentiment score, a volatility
forecast) about one instrument at one time. ``validate_signal`` is the boundary: it turns a raw
mapping (a JSON line, a CSV row, an HTTP body) into an ``AISignal`` or a ``SignalRejection``
that names the rule, the field and the value, so nothing is dropped without a reason.
"""

import math
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from quantdesk.domain.instruments import validate_instrument_id
from quantdesk.domain.text import LABEL_MAX_LENGTH, single_line
from quantdesk.domain.time import TS_MAX_NS, TS_MIN_NS, ts_range_text

NS_PER_SECOND = 1_000_000_000
TS_FIELDS = ("ts_event", "ts_init")
OUT_OF_RANGE_ERRORS = ("greater_than_equal", "less_than_equal")
PROBABILITY_SUM_TOLERANCE = 1e-9

Label = Annotated[
    str, Field(min_length=1, max_length=LABEL_MAX_LENGTH), AfterValidator(single_line)
]
"""A producer's, model's or trace's name: one line, no padding, no control characters."""
InstrumentId = Annotated[str, Field(min_length=1), AfterValidator(validate_instrument_id)]


class SignalType(StrEnum):
    REGIME_PREDICTION = "REGIME_PREDICTION"
    CORRELATION_SHIFT = "CORRELATION_SHIFT"
    SENTIMENT = "SENTIMENT"
    VOLATILITY_FORECAST = "VOLATILITY_FORECAST"


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class RegimeValue(_Value):
    """The most likely regime and the probability of every regime the model knows."""

    kind: Literal["regime"] = "regime"
    label: str = Field(min_length=1)
    probabilities: dict[str, float] = Field(min_length=1)

    @model_validator(mode="after")
    def _probabilities_form_a_distribution(self) -> "RegimeValue":
        values = list(self.probabilities.values())
        if any(p < 0 or p > 1 for p in values):
            raise ValueError("every class probability must lie in [0, 1]")
        total = math.fsum(values)
        if abs(total - 1.0) > PROBABILITY_SUM_TOLERANCE:
            raise ValueError(f"class probabilities sum to {total!r}, not 1 (tolerance 1e-9)")
        if self.label not in self.probabilities:
            raise ValueError(f"label {self.label!r} is not one of the classes")
        return self


class CorrelationShiftValue(_Value):
    """Change of correlation with another instrument over the producer's window."""

    kind: Literal["correlation_shift"] = "correlation_shift"
    other_instrument_id: InstrumentId
    change: float = Field(ge=-2.0, le=2.0)
    correlation: float | None = Field(default=None, ge=-1.0, le=1.0)


class SentimentValue(_Value):
    kind: Literal["sentiment"] = "sentiment"
    score: float = Field(ge=-1.0, le=1.0)


class VolatilityForecastValue(_Value):
    """Annualised volatility expected over ``horizon_ns`` after ``ts_event``."""

    kind: Literal["volatility_forecast"] = "volatility_forecast"
    annualized_volatility: float = Field(gt=0.0)
    horizon_ns: int = Field(gt=0)


SignalValue = Annotated[
    RegimeValue | CorrelationShiftValue | SentimentValue | VolatilityForecastValue,
    Field(discriminator="kind"),
]

VALUE_MODELS: dict[SignalType, type[_Value]] = {
    SignalType.REGIME_PREDICTION: RegimeValue,
    SignalType.CORRELATION_SHIFT: CorrelationShiftValue,
    SignalType.SENTIMENT: SentimentValue,
    SignalType.VOLATILITY_FORECAST: VolatilityForecastValue,
}


class Provenance(BaseModel):
    """Where a signal came from: followed from producer to decision to fill."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    trace_id: Label
    producer: Label
    model_version: Label
    derived_from: tuple[Label, ...] = ()


class AISignal(BaseModel):
    """One market view. Build it through ``validate_signal`` at any boundary."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    signal_id: str = Field(description="a uuid, kept in its canonical form (lowercase, hyphens)")
    signal_type: SignalType
    instrument_id: InstrumentId
    ts_event: int = Field(
        ge=TS_MIN_NS, le=TS_MAX_NS, description="when the view holds, ns since epoch, UTC"
    )
    ts_init: int = Field(
        ge=TS_MIN_NS, le=TS_MAX_NS, description="when the view became known, ns; replay uses it"
    )
    confidence: float = Field(ge=0.0, le=1.0)
    value: SignalValue
    source_model: Label
    metadata: dict[str, str] = Field(default_factory=dict)
    provenance: Provenance

    @field_validator("signal_id", mode="before")
    @classmethod
    def _canonical_id(cls, value: object) -> object:
        """One id, one spelling: ``{ABC...}``, ``urn:uuid:...`` and bare hex are the same id."""
        return canonical_signal_id(value) if isinstance(value, str) else value

    @field_validator("ts_event", "ts_init", mode="before")
    @classmethod
    def _integer_ns(cls, value: object) -> object:
        # a bool is an int to Python and a float past 2^53 has lost its nanoseconds
        if isinstance(value, bool | float):
            raise ValueError("must be an integer count of nanoseconds")
        return value

    @model_validator(mode="after")
    def _value_fits_type(self) -> "AISignal":
        expected = VALUE_MODELS[self.signal_type]
        if not isinstance(self.value, expected):
            raise ValueError(
                f"a {self.signal_type} signal carries a {expected.__name__}, "
                f"not a {type(self.value).__name__}"
            )
        if self.ts_init < self.ts_event:
            raise ValueError("ts_init is before ts_event")
        return self

    def canonical_json(self) -> str:
        """Stable text of the signal: stored in the catalog and compared byte for byte."""
        return self.model_dump_json()


class SignalRejectReason(StrEnum):
    MALFORMED = "malformed"
    TS_OUT_OF_RANGE = "ts_out_of_range"
    UNKNOWN_TYPE = "unknown_type"
    BAD_CONFIDENCE = "bad_confidence"
    BAD_VALUE = "bad_value"
    FUTURE_TS_EVENT = "future_ts_event"
    TS_INIT_BEFORE_TS_EVENT = "ts_init_before_ts_event"
    UNKNOWN_INSTRUMENT = "unknown_instrument"
    DUPLICATE_ID = "duplicate_id"
    STALE = "stale"
    # a record that could not be read within the document limits (domain/documents.py)
    NOT_UTF8 = "not_utf8"
    LINE_TOO_LONG = "line_too_long"
    NOT_JSON = "not_json"
    NESTING_TOO_DEEP = "nesting_too_deep"
    TOO_MANY_NODES = "too_many_nodes"
    NUMBER_TOO_LONG = "number_too_long"
    STRING_TOO_LONG = "string_too_long"
    DUPLICATE_KEY = "duplicate_key"


@dataclass(frozen=True, slots=True)
class SignalRejection:
    """Why a signal was turned away; kept with the raw record for review."""

    reason: SignalRejectReason
    field: str
    value: str
    detail: str
    signal_id: str | None = None


@dataclass(frozen=True, slots=True)
class SignalValidationContext:
    """What validation needs to know of the world at the moment a signal arrives.

    ``max_age_ns`` is declared per producer (``source_model``): a signal is stale when it
    became known (``ts_init``) longer than that after the moment it describes (``ts_event``).
    Staleness is judged on the signal's own clock, so a historical file validates the same
    today as on the day it was written.
    """

    now_ns: int
    known_instruments: Collection[str]
    is_duplicate: Callable[[str], bool]
    future_tolerance_ns: int = 5 * NS_PER_SECOND
    max_age_ns: Mapping[str, int] = field(default_factory=dict)
    default_max_age_ns: int | None = None


def new_signal_id() -> str:
    return str(uuid.uuid4())


def canonical_signal_id(text: str) -> str:
    """The lowercase hyphenated form of a uuid; ``ValueError`` when ``text`` is none."""
    try:
        return str(uuid.UUID(text.strip()))
    except ValueError:
        raise ValueError("signal_id must be a uuid") from None


def validate_signal(
    raw: Mapping[str, Any], context: SignalValidationContext
) -> AISignal | SignalRejection:
    """The one gate for signals: the first broken rule, in the order a reviewer reads them."""
    sid = _id_for_report(raw.get("signal_id"))
    type_name = raw.get("signal_type")
    try:
        signal_type = SignalType(str(type_name))
    except ValueError:
        return SignalRejection(
            SignalRejectReason.UNKNOWN_TYPE,
            "signal_type",
            repr(type_name),
            f"signal_type must be one of {', '.join(t.value for t in SignalType)}",
            sid,
        )
    confidence = raw.get("confidence")
    if (
        isinstance(confidence, bool)
        or not isinstance(confidence, int | float)
        or math.isnan(confidence)
        or not 0.0 <= confidence <= 1.0
    ):
        return SignalRejection(
            SignalRejectReason.BAD_CONFIDENCE,
            "confidence",
            repr(confidence),
            "confidence must be a number in [0, 1]",
            sid,
        )
    value = raw.get("value")
    if isinstance(value, Mapping):
        value = {"kind": VALUE_MODELS[signal_type].model_fields["kind"].default, **value}
    try:
        VALUE_MODELS[signal_type].model_validate(value)
    except ValidationError as error:
        return SignalRejection(
            SignalRejectReason.BAD_VALUE, "value", repr(raw.get("value")), _first(error), sid
        )
    try:
        signal = AISignal.model_validate({**raw, "value": value})
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "signal"
        if where in TS_FIELDS and first["type"] in OUT_OF_RANGE_ERRORS:
            return SignalRejection(
                SignalRejectReason.TS_OUT_OF_RANGE,
                where,
                repr(raw.get(where)),
                f"{where} must lie in {ts_range_text()} ({TS_MIN_NS}..{TS_MAX_NS} ns)",
                sid,
            )
        if first["msg"].endswith("ts_init is before ts_event"):
            return SignalRejection(
                SignalRejectReason.TS_INIT_BEFORE_TS_EVENT,
                "ts_init",
                repr(raw.get("ts_init")),
                f"ts_init {raw.get('ts_init')} is before ts_event {raw.get('ts_event')}",
                sid,
            )
        return SignalRejection(
            SignalRejectReason.MALFORMED, where, repr(first.get("input")), first["msg"], sid
        )
    return _check_in_context(signal, context)


def check_signal(signal: AISignal, context: SignalValidationContext) -> AISignal | SignalRejection:
    """The context rules alone, for a signal already built (a producer's ``AISignal``).

    Its shape was checked when it was constructed; re-validating a dump would double the
    cost on the live path for nothing.
    """
    return _check_in_context(signal, context)


def _check_in_context(
    signal: AISignal, context: SignalValidationContext
) -> AISignal | SignalRejection:
    sid = signal.signal_id
    if signal.ts_event > context.now_ns + context.future_tolerance_ns:
        return SignalRejection(
            SignalRejectReason.FUTURE_TS_EVENT,
            "ts_event",
            str(signal.ts_event),
            f"ts_event is {(signal.ts_event - context.now_ns) / NS_PER_SECOND:.3f} s in the "
            f"future (tolerance {context.future_tolerance_ns / NS_PER_SECOND:g} s)",
            sid,
        )
    if signal.instrument_id not in context.known_instruments:
        return SignalRejection(
            SignalRejectReason.UNKNOWN_INSTRUMENT,
            "instrument_id",
            signal.instrument_id,
            "no such instrument in the catalog (quantdesk instruments list)",
            sid,
        )
    if isinstance(signal.value, CorrelationShiftValue) and (
        signal.value.other_instrument_id not in context.known_instruments
    ):
        return SignalRejection(
            SignalRejectReason.UNKNOWN_INSTRUMENT,
            "value.other_instrument_id",
            signal.value.other_instrument_id,
            "no such instrument in the catalog (quantdesk instruments list)",
            sid,
        )
    max_age = context.max_age_ns.get(signal.source_model, context.default_max_age_ns)
    if max_age is not None and signal.ts_init - signal.ts_event > max_age:
        return SignalRejection(
            SignalRejectReason.STALE,
            "ts_init",
            str(signal.ts_init),
            f"known {(signal.ts_init - signal.ts_event) / NS_PER_SECOND:.3f} s after ts_event; "
            f"{signal.source_model} declares a max age of {max_age / NS_PER_SECOND:g} s",
            sid,
        )
    if context.is_duplicate(sid):
        return SignalRejection(
            SignalRejectReason.DUPLICATE_ID, "signal_id", sid, "a signal with this id exists", sid
        )
    return signal


def _id_for_report(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return canonical_signal_id(value)
    except ValueError:
        return value


def _first(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {first['msg']}" if where else str(first["msg"])
