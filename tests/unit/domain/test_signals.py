"""The signal gate's rules one by one, at their boundaries."""

import math
import uuid
from typing import Any

import pytest

from quantdesk.domain.signals import (
    NS_PER_SECOND,
    TS_FIELDS,
    AISignal,
    RegimeValue,
    SignalRejection,
    SignalRejectReason,
    SignalValidationContext,
    canonical_signal_id,
    check_signal,
    new_signal_id,
    validate_signal,
)
from quantdesk.domain.time import TS_MAX_NS, TS_MIN_NS
from support.signals import INSTRUMENTS, NOW_NS, raw_signal

MAX_AGE = 600 * NS_PER_SECOND


def _context(**overrides: Any) -> SignalValidationContext:
    values: dict[str, Any] = {
        "now_ns": NOW_NS,
        "known_instruments": INSTRUMENTS,
        "is_duplicate": lambda _: False,
        "max_age_ns": {"test-model": MAX_AGE},
    }
    values.update(overrides)
    return SignalValidationContext(**values)


def _reason(raw: dict[str, Any], **context: Any) -> SignalRejectReason | None:
    outcome = validate_signal(raw, _context(**context))
    return outcome.reason if isinstance(outcome, SignalRejection) else None


# staleness --------------------------------------------------------------------------------


def test_a_signal_exactly_max_age_old_is_fresh_one_ns_more_is_stale() -> None:
    assert _reason(raw_signal(lag_ns=MAX_AGE)) is None
    assert _reason(raw_signal(lag_ns=MAX_AGE + 1)) is SignalRejectReason.STALE


def test_staleness_uses_the_producers_own_age_else_the_default() -> None:
    other = raw_signal(source_model="other-model", lag_ns=MAX_AGE + 1)
    assert _reason(other) is None  # no age declared for it, no default: never stale
    assert _reason(other, default_max_age_ns=MAX_AGE) is SignalRejectReason.STALE
    assert _reason(other, default_max_age_ns=MAX_AGE + 1) is None


def test_the_stale_reject_names_the_field_and_the_age() -> None:
    outcome = validate_signal(raw_signal(lag_ns=MAX_AGE + NS_PER_SECOND), _context())
    assert isinstance(outcome, SignalRejection)
    assert outcome.field == "ts_init"
    assert "601.000 s after ts_event" in outcome.detail and "600 s" in outcome.detail


# the future -------------------------------------------------------------------------------


def test_ts_event_up_to_the_tolerance_ahead_is_accepted_one_ns_more_is_not() -> None:
    tolerance = 5 * NS_PER_SECOND
    assert _reason(raw_signal(ts_event=NOW_NS + tolerance, lag_ns=0)) is None
    late = raw_signal(ts_event=NOW_NS + tolerance + 1, lag_ns=0)
    assert _reason(late) is SignalRejectReason.FUTURE_TS_EVENT
    outcome = validate_signal(late, _context())
    assert isinstance(outcome, SignalRejection) and outcome.field == "ts_event"
    assert "5.000 s in the future (tolerance 5 s)" in outcome.detail


# timestamps in range ----------------------------------------------------------------------


@pytest.mark.parametrize("field", TS_FIELDS)
@pytest.mark.parametrize("value", [TS_MAX_NS + 1, 2**63, 2**64 + 5, TS_MIN_NS - 1])
def test_timestamps_outside_the_valid_range_are_rejected_by_name(field: str, value: int) -> None:
    raw = raw_signal(ts_event=0, lag_ns=0)
    raw[field] = value
    outcome = validate_signal(raw, _context(now_ns=TS_MAX_NS))
    assert isinstance(outcome, SignalRejection)
    assert (outcome.reason, outcome.field) == (SignalRejectReason.TS_OUT_OF_RANGE, field)
    assert outcome.value == repr(value) and "2262-04-10" in outcome.detail


def test_the_range_ends_are_valid() -> None:
    assert _reason(raw_signal(ts_event=TS_MIN_NS, lag_ns=0), now_ns=TS_MAX_NS) is None
    assert _reason(raw_signal(ts_event=TS_MAX_NS, lag_ns=0), now_ns=TS_MAX_NS) is None


@pytest.mark.parametrize("value", [True, 1.7e18, float(NOW_NS)])
def test_a_timestamp_must_be_an_integer(value: object) -> None:
    outcome = validate_signal(raw_signal(ts_init=value), _context())
    assert isinstance(outcome, SignalRejection)
    assert (outcome.reason, outcome.field) == (SignalRejectReason.MALFORMED, "ts_init")
    assert "integer count of nanoseconds" in outcome.detail


def test_ts_init_before_ts_event_is_its_own_reason() -> None:
    raw = raw_signal(lag_ns=-1)
    outcome = validate_signal(raw, _context())
    assert isinstance(outcome, SignalRejection)
    assert outcome.reason is SignalRejectReason.TS_INIT_BEFORE_TS_EVENT
    assert outcome.field == "ts_init" and outcome.value == repr(raw["ts_init"])
    assert str(raw["ts_event"]) in outcome.detail


# ids ----------------------------------------------------------------------------------------


def test_every_spelling_of_a_uuid_is_one_id() -> None:
    canonical = str(uuid.uuid4())
    spellings = [
        canonical,
        canonical.upper(),
        "{" + canonical + "}",
        canonical.replace("-", ""),
        "urn:uuid:" + canonical,
        f"  {canonical}  ",
    ]
    assert {canonical_signal_id(s) for s in spellings} == {canonical}
    asked: list[str] = []

    def duplicate(signal_id: str) -> bool:
        asked.append(signal_id)
        return False

    for spelling in spellings:
        outcome = validate_signal(raw_signal(signal_id=spelling), _context(is_duplicate=duplicate))
        assert isinstance(outcome, AISignal) and outcome.signal_id == canonical
    assert set(asked) == {canonical}


def test_a_rejection_reports_the_canonical_id_when_there_is_one() -> None:
    canonical = str(uuid.uuid4())
    outcome = validate_signal(raw_signal(signal_id=canonical.upper(), confidence=2), _context())
    assert isinstance(outcome, SignalRejection) and outcome.signal_id == canonical
    bad = validate_signal(raw_signal(signal_id="nope", confidence=2), _context())
    assert isinstance(bad, SignalRejection) and bad.signal_id == "nope"
    assert validate_signal(raw_signal(signal_id=7, confidence=2), _context()).signal_id is None  # type: ignore[union-attr]


@pytest.mark.parametrize("bad", ["not-a-uuid", "", "1234", canonical_signal_id.__name__])
def test_an_id_that_is_no_uuid_is_malformed(bad: str) -> None:
    with pytest.raises(ValueError, match="must be a uuid"):
        canonical_signal_id(bad)
    outcome = validate_signal(raw_signal(signal_id=bad), _context())
    assert isinstance(outcome, SignalRejection)
    assert (outcome.reason, outcome.field) == (SignalRejectReason.MALFORMED, "signal_id")


def test_a_producers_signal_is_checked_with_its_canonical_id() -> None:
    canonical = str(uuid.uuid4())
    made = validate_signal(raw_signal(), _context())
    assert isinstance(made, AISignal)
    upper = AISignal.model_validate({**made.model_dump(), "signal_id": canonical.upper()})
    assert upper.signal_id == canonical
    duplicate = check_signal(upper, _context(is_duplicate=lambda i: i == canonical))
    assert isinstance(duplicate, SignalRejection)
    assert duplicate.reason is SignalRejectReason.DUPLICATE_ID and duplicate.value == canonical


# the other rules ----------------------------------------------------------------------------


@pytest.mark.parametrize("confidence", [0.0, 1.0, 0.5])
def test_confidence_at_its_bounds_is_accepted(confidence: float) -> None:
    assert _reason(raw_signal(confidence=confidence)) is None


@pytest.mark.parametrize("confidence", [-1e-12, 1.0000001, math.nan, math.inf, True, "0.5", None])
def test_confidence_outside_or_not_a_number_is_rejected(confidence: object) -> None:
    outcome = validate_signal(raw_signal(confidence=confidence), _context())
    assert isinstance(outcome, SignalRejection)
    assert (outcome.reason, outcome.field) == (SignalRejectReason.BAD_CONFIDENCE, "confidence")
    assert outcome.value == repr(confidence)


def test_an_unknown_type_names_the_known_ones() -> None:
    outcome = validate_signal(
        raw_signal(signal_type="SENTIMENT") | {"signal_type": "NEWS"}, _context()
    )
    assert isinstance(outcome, SignalRejection)
    assert (outcome.reason, outcome.field, outcome.value) == (
        SignalRejectReason.UNKNOWN_TYPE,
        "signal_type",
        "'NEWS'",
    )
    assert "REGIME_PREDICTION" in outcome.detail


def test_unknown_instruments_on_either_side_of_a_correlation() -> None:
    assert _reason(raw_signal(instrument_id="NOPE.X")) is SignalRejectReason.UNKNOWN_INSTRUMENT
    shift = raw_signal("CORRELATION_SHIFT")
    shift["value"] = {"other_instrument_id": "NOPE.X", "change": 0.1}
    outcome = validate_signal(shift, _context())
    assert isinstance(outcome, SignalRejection)
    assert outcome.field == "value.other_instrument_id" and outcome.value == "NOPE.X"


def test_a_duplicate_is_reported_last_after_every_other_rule() -> None:
    stale_dup = raw_signal(lag_ns=MAX_AGE + 1)
    assert _reason(stale_dup, is_duplicate=lambda _: True) is SignalRejectReason.STALE
    dup = validate_signal(raw_signal(), _context(is_duplicate=lambda _: True))
    assert isinstance(dup, SignalRejection)
    assert (dup.reason, dup.field) == (SignalRejectReason.DUPLICATE_ID, "signal_id")


@pytest.mark.parametrize(
    ("probabilities", "label", "message"),
    [
        ({"a": 0.5, "b": 0.5 + 2e-9}, "a", "sum to"),
        ({"a": 1.2, "b": -0.2}, "a", "[0, 1]"),
        ({"a": 1.0}, "b", "not one of the classes"),
    ],
)
def test_regime_probabilities_form_a_distribution(
    probabilities: dict[str, float], label: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        RegimeValue(label=label, probabilities=probabilities)


def test_regime_probabilities_within_the_tolerance_sum_to_one() -> None:
    assert RegimeValue(label="a", probabilities={"a": 0.5, "b": 0.5 + 5e-10}).label == "a"
    assert RegimeValue(label="a", probabilities={"a": 0.0, "b": 1.0}).label == "a"
    assert RegimeValue(label="b", probabilities={"a": 1.0, "b": 0.0}).label == "b"


def test_a_value_of_another_type_is_refused() -> None:
    made = validate_signal(raw_signal(), _context())
    assert isinstance(made, AISignal)
    with pytest.raises(ValueError, match="a SENTIMENT signal carries a SentimentValue"):
        AISignal.model_validate(
            {
                **made.model_dump(),
                "value": {"kind": "regime", "label": "a", "probabilities": {"a": 1.0}},
            }
        )


# every reject in full: reason, field, value, detail and id, as a reviewer reads them ---------

SID = "6f1c2a4e-8d0b-4c55-9a57-2a1f7e0c9b11"
TYPES_TEXT = "REGIME_PREDICTION, CORRELATION_SHIFT, SENTIMENT, VOLATILITY_FORECAST"
UNKNOWN = "no such instrument in the catalog (quantdesk instruments list)"
R = SignalRejectReason
BASE = raw_signal(signal_id=SID.upper())  # reported under its canonical id
TE = int(BASE["ts_event"])
SHIFT = {**raw_signal("CORRELATION_SHIFT", signal_id=SID)}
REGIME = {**raw_signal("REGIME_PREDICTION", signal_id=SID)}
EXACT: list[tuple[dict[str, Any], SignalRejection]] = [
    (
        {"signal_type": "NEWS"},
        SignalRejection(
            R.UNKNOWN_TYPE, "signal_type", "'NEWS'", f"signal_type must be one of {TYPES_TEXT}", SID
        ),
    ),
    (
        {"confidence": 1.5},
        SignalRejection(
            R.BAD_CONFIDENCE, "confidence", "1.5", "confidence must be a number in [0, 1]", SID
        ),
    ),
    (
        {"value": {"score": 1.5}},
        SignalRejection(
            R.BAD_VALUE,
            "value",
            "{'score': 1.5}",
            "score: Input should be less than or equal to 1",
            SID,
        ),
    ),
    (
        {**REGIME, "value": {"label": "a", "probabilities": {"a": 0.5}}},
        SignalRejection(
            R.BAD_VALUE,
            "value",
            "{'label': 'a', 'probabilities': {'a': 0.5}}",
            "Value error, class probabilities sum to 0.5, not 1 (tolerance 1e-9)",
            SID,
        ),
    ),
    (
        {"ts_init": TE - 1},
        SignalRejection(
            R.TS_INIT_BEFORE_TS_EVENT,
            "ts_init",
            repr(TE - 1),
            f"ts_init {TE - 1} is before ts_event {TE}",
            SID,
        ),
    ),
    (
        {"ts_event": 2**63, "ts_init": 2**63},
        SignalRejection(
            R.TS_OUT_OF_RANGE,
            "ts_event",
            repr(2**63),
            "ts_event must lie in 1970-01-01 00:00:00 .. 2262-04-10 00:00:00 UTC "
            "(0..9223200000000000000 ns)",
            SID,
        ),
    ),
    (
        {"source_model": ""},
        SignalRejection(
            R.MALFORMED, "source_model", "''", "String should have at least 1 character", SID
        ),
    ),
    (
        {"provenance": {**BASE["provenance"], "trace_id": ""}},
        SignalRejection(
            R.MALFORMED, "provenance.trace_id", "''", "String should have at least 1 character", SID
        ),
    ),
    (
        {"ts_event": NOW_NS + 7 * NS_PER_SECOND, "ts_init": NOW_NS + 7 * NS_PER_SECOND},
        SignalRejection(
            R.FUTURE_TS_EVENT,
            "ts_event",
            str(NOW_NS + 7 * NS_PER_SECOND),
            "ts_event is 7.000 s in the future (tolerance 5 s)",
            SID,
        ),
    ),
    (
        {"instrument_id": "NOPE.X"},
        SignalRejection(R.UNKNOWN_INSTRUMENT, "instrument_id", "NOPE.X", UNKNOWN, SID),
    ),
    (
        {**SHIFT, "value": {"other_instrument_id": "NOPE.Y", "change": 0.1}},
        SignalRejection(R.UNKNOWN_INSTRUMENT, "value.other_instrument_id", "NOPE.Y", UNKNOWN, SID),
    ),
    (
        {"ts_init": TE + MAX_AGE + 2 * NS_PER_SECOND},
        SignalRejection(
            R.STALE,
            "ts_init",
            str(TE + MAX_AGE + 2 * NS_PER_SECOND),
            "known 602.000 s after ts_event; test-model declares a max age of 600 s",
            SID,
        ),
    ),
]


@pytest.mark.parametrize(("change", "expected"), EXACT)
def test_each_reject_names_reason_field_value_and_why(
    change: dict[str, Any], expected: SignalRejection
) -> None:
    assert (
        validate_signal({**BASE, **change, "signal_id": BASE["signal_id"]}, _context()) == expected
    )


def test_a_duplicate_reject_in_full() -> None:
    outcome = validate_signal(BASE, _context(is_duplicate=lambda i: i == SID))
    assert outcome == SignalRejection(
        R.DUPLICATE_ID, "signal_id", SID, "a signal with this id exists", SID
    )


def test_the_uuid_error_says_what_is_wrong() -> None:
    with pytest.raises(ValueError) as caught:
        canonical_signal_id("nope")
    assert str(caught.value) == "signal_id must be a uuid"


def test_a_nested_value_error_names_its_path() -> None:
    regime = {**REGIME, "value": {"label": "a", "probabilities": {"a": "x"}}}
    outcome = validate_signal(regime, _context())
    assert isinstance(outcome, SignalRejection) and outcome.reason is R.BAD_VALUE
    assert outcome.detail.startswith("probabilities.a: ")


def test_new_ids_are_distinct_canonical_uuid4s() -> None:
    made = {new_signal_id() for _ in range(3)}
    assert len(made) == 3
    assert all(uuid.UUID(i).version == 4 and canonical_signal_id(i) == i for i in made)
