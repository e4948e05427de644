"""Futures, options and crypto futures as the desk defines them: what each needs, what each
refuses, and expiry instants written as text."""

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from quantdesk.domain.contract_terms import ExerciseStyle, OptionKind, UnderlyingClass
from quantdesk.domain.instruments import AssetClass, InstrumentSpec

ES_EXPIRY_NS = 1_710_509_400_000_000_000  # 2024-03-15T13:30:00Z


def future(**changes: Any) -> dict[str, Any]:
    return {
        "instrument_id": "ESH4.XCME",
        "asset_class": "future",
        "underlying": "ES",
        "underlying_class": "index",
        "currency": "USD",
        "tick_size": "0.25",
        "multiplier": 50,
        "expiration_ns": "2024-03-15T13:30:00Z",
    } | changes


def option(**changes: Any) -> dict[str, Any]:
    return {
        "instrument_id": "AAPL240419C00170000.OPRA",
        "asset_class": "option",
        "underlying": "AAPL.XNAS",
        "option_kind": "call",
        "strike": 170,
        "currency": "USD",
        "tick_size": "0.01",
        "multiplier": 100,
        "expiration_ns": "2024-04-19T20:00:00Z",
    } | changes


def refusal(values: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as refused:
        InstrumentSpec.model_validate(values)
    return str(refused.value)


def test_a_future_reads_its_expiry_from_text_with_a_zone() -> None:
    spec = InstrumentSpec.model_validate(future())
    assert spec.asset_class is AssetClass.FUTURE
    assert spec.expiration_ns == ES_EXPIRY_NS
    assert spec.multiplier == 50
    assert spec.is_dated
    assert spec.contract_class is UnderlyingClass.INDEX
    offset = InstrumentSpec.model_validate(future(expiration_ns="2024-03-15T09:30:00-04:00"))
    assert offset.expiration_ns == ES_EXPIRY_NS
    assert InstrumentSpec.model_validate(future(expiration_ns=ES_EXPIRY_NS)) == spec
    as_flag = InstrumentSpec.model_validate(future(expiration_ns=f"{ES_EXPIRY_NS}"))
    assert as_flag == spec  # integer ns as text, as a CLI flag passes it


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"expiration_ns": "2024-03-15"}, "not a date or a local time"),
        ({"expiration_ns": "2024-03-15T13:30:00"}, "not a date or a local time"),
        ({"expiration_ns": "next friday"}, "is not an ISO-8601 time"),
        ({"expiration_ns": 1.7e18}, "integer nanoseconds"),
        ({"expiration_ns": -1}, "greater than or equal to 0"),
        ({"expiration_ns": "99999999999999999999999999"}, "less than or equal to"),
        ({"expiration_ns": None}, "needs expiration_ns"),
        ({"activation_ns": "2024-03-15T13:30:00Z"}, "activation_ns must be before"),
        ({"underlying": None}, "needs its underlying"),
        ({"underlying_class": None}, "needs underlying_class"),
        ({"size_increment": "0.5"}, "whole contracts"),
        ({"base_currency": "EUR"}, "has no base_currency"),
        ({"strike": 5000}, "applies to options only"),
        ({"underlying": "ES\n"}, "String should match pattern"),
    ],
)
def test_a_future_refuses_what_it_cannot_be(changes: dict[str, Any], reason: str) -> None:
    assert reason in refusal(future(**changes))


def test_a_future_needs_its_multiplier_stated() -> None:
    values = future()
    del values["multiplier"]
    assert "needs its multiplier" in refusal(values)


def test_an_option_defaults_to_european_on_an_equity() -> None:
    spec = InstrumentSpec.model_validate(option())
    assert spec.option_kind is OptionKind.CALL
    assert spec.strike == 170
    assert spec.style is ExerciseStyle.EUROPEAN
    assert spec.contract_class is UnderlyingClass.EQUITY


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"option_kind": None}, "needs option_kind"),
        ({"strike": None}, "needs option_kind (call or put) and strike"),
        ({"strike": 0}, "strike"),
        ({"underlying": "AAPL"}, "not of the form SYMBOL.VENUE"),
        ({"option_kind": "straddle"}, "option_kind"),
        ({"exercise_style": "bermudan"}, "exercise_style"),
    ],
)
def test_an_option_refuses_what_it_cannot_be(changes: dict[str, Any], reason: str) -> None:
    assert reason in refusal(option(**changes))


def test_a_crypto_future_is_on_a_currency_and_may_be_inverse() -> None:
    spec = InstrumentSpec(
        instrument_id="BTCUSD-240329.BINANCE",
        asset_class=AssetClass.CRYPTO_FUTURE,
        base_currency="BTC",
        currency="USD",
        settlement_currency="BTC",
        is_inverse=True,
        tick_size=Decimal("0.1"),
        size_increment=Decimal(1),
        expiration_ns=ES_EXPIRY_NS,
    )
    assert spec.is_dated
    with pytest.raises(ValidationError, match="needs an underlying currency"):
        InstrumentSpec.model_validate(spec.model_dump() | {"base_currency": None})
    with pytest.raises(ValidationError, match="needs expiration_ns"):
        InstrumentSpec.model_validate(spec.model_dump() | {"expiration_ns": None})


@pytest.mark.parametrize("field", ["expiration_ns", "underlying", "strike", "option_kind"])
def test_undated_kinds_refuse_contract_terms(field: str) -> None:
    values = {
        "instrument_id": "AAPL.XNAS",
        "asset_class": "equity",
        "currency": "USD",
        "tick_size": "0.01",
        field: option()[field],
    }
    assert "only" in refusal(values) or "has no activation" in refusal(values)
