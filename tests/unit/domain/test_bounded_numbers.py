"""Every decimal in a definition, a limit or an instrument is bounded, and kept short.

Issue 12 items 3 and 8: ``trade_size: 1e999999`` stored a megabyte of digits, and a tick
size of ``1e30`` ended in an engine panic. Refusals name the field, a cut-down value and the
range allowed.
"""

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from quantdesk.domain.instruments import AssetClass, InstrumentSpec
from quantdesk.domain.numbers import PRECISION_MAX, PRICE_MAX, QUANTITY_MAX, plain
from quantdesk.domain.risk import RiskLimits
from quantdesk.domain.strategies.families import PARAMETER_MODELS, StrategyFamily
from quantdesk.domain.strategies.problems import InvalidDefinitionError, parse_definition

HUGE = ["1e999999", "1" + "0" * 100_000, "-1e999999", "1e-999999", "0." + "0" * 100_000 + "1"]


def trend(trade_size: object) -> dict[str, Any]:
    return {
        "strategy_id": "trend-a",
        "family": "trend_following",
        "name": "trend",
        "instruments": ["SYN01.SIM"],
        "parameters": {"fast_period": 10, "slow_period": 50, "trade_size": trade_size},
    }


def fx(**overrides: object) -> InstrumentSpec:
    values: dict[str, object] = {
        "instrument_id": "EUR/USD.SIM",
        "asset_class": AssetClass.FX,
        "currency": "USD",
        "base_currency": "EUR",
        "tick_size": "0.00001",
        "size_increment": "1",
    }
    return InstrumentSpec.model_validate({**values, **overrides})


def test_the_issue_repro_trade_size_1e999999_is_refused_naming_the_range() -> None:
    with pytest.raises(InvalidDefinitionError) as caught:
        parse_definition(trend("1e999999"))
    message = str(caught.value)
    assert message.startswith("parameters.trade_size: 1E+999999 is above the maximum")
    assert f"0 < value <= {QUANTITY_MAX}" in message and "9 decimal places" in message


@pytest.mark.parametrize("value", HUGE)
def test_no_huge_trade_size_is_stored_or_echoed(value: str) -> None:
    with pytest.raises(InvalidDefinitionError) as caught:
        parse_definition(trend(value))
    assert len(str(caught.value)) < 500


def decimal_fields(model: type[BaseModel]) -> list[str]:
    return [
        name
        for name, field in model.model_fields.items()
        if field.annotation is Decimal or "Decimal" in str(field.annotation)
    ]


@pytest.mark.parametrize("family", list(StrategyFamily))
def test_every_decimal_parameter_of_every_family_is_bounded(family: StrategyFamily) -> None:
    model = PARAMETER_MODELS[family]
    for name in decimal_fields(model):
        for value in ("1e999999", "1e-30", "0"):
            with pytest.raises(ValidationError, match=name):
                model.model_validate({name: value})


@pytest.mark.parametrize("name", decimal_fields(RiskLimits))
def test_every_risk_limit_is_bounded(name: str) -> None:
    for value in HUGE:
        with pytest.raises(ValidationError) as caught:
            RiskLimits.model_validate({name: value})
        assert caught.value.errors()[0]["loc"] == (name,)
        assert len(caught.value.errors()[0]["msg"]) < 300


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("tick_size", "1e30", f"1E+30 is above the maximum {PRICE_MAX}"),
        ("tick_size", "0.0000000001", "more than 9 decimal places"),
        ("size_increment", "1e30", f"is above the maximum {QUANTITY_MAX}"),
        ("lot_size", "1e999999", "is above the maximum"),
        ("multiplier", "-1", "is not greater than 0"),
        ("margin_init", "2", "is above the maximum 1"),
        ("margin_maint", "-0.1", "is below the minimum 0"),
        ("maker_fee", "1e999999", "is above the maximum 0.1"),
        ("taker_fee", "-1", "is below the minimum -0.01"),
    ],
)
def test_instrument_numbers_are_bounded(field: str, value: str, says: str) -> None:
    with pytest.raises(ValidationError) as caught:
        fx(**{field: value})
    error = caught.value.errors()[0]
    assert error["loc"] == (field,)
    assert says in error["msg"] and "allowed:" in error["msg"]


def test_the_engine_extremes_are_accepted() -> None:
    spec = fx(tick_size=str(PRICE_MAX), size_increment="0.000000001")
    assert (spec.tick_size, spec.size_precision) == (PRICE_MAX, PRECISION_MAX)


def test_decimals_are_kept_in_plain_form() -> None:
    assert str(plain(Decimal("1E+2"))) == "100"
    assert str(plain(Decimal("0.0100"))) == "0.01"
    assert str(plain(Decimal("-0"))) == "0"
    assert str(fx(tick_size="1.000" + "0" * 10_000).tick_size) == "1"


@settings(max_examples=200, deadline=None)
@given(
    digits=st.integers(min_value=1, max_value=10**40),
    exponent=st.integers(min_value=-60, max_value=60),
    zeros=st.integers(min_value=0, max_value=50),
)
def test_an_accepted_decimal_is_always_short(digits: int, exponent: int, zeros: int) -> None:
    # Property: bounded decimals are short: whatever is written (any digits, exponent and
    # trailing zeros), an accepted trade size or tick is in range and formats in <= 21 chars.
    text = f"{digits}{'0' * zeros}e{exponent}"
    for build, read in (
        (lambda v: parse_definition(trend(v)), lambda d: d.parameters.trade_size),
        (lambda v: fx(tick_size=v), lambda s: s.tick_size),
    ):
        try:
            value = read(build(text))
        except (ValidationError, InvalidDefinitionError):
            continue
        assert 0 < value <= QUANTITY_MAX
        assert len(format(value, "f")) <= 21, text


def test_instrument_lists_are_bounded() -> None:
    many = [f"S{i}.SIM" for i in range(10_001)]
    with pytest.raises(InvalidDefinitionError, match="instruments: Tuple should have at most 1000"):
        parse_definition({**trend("1"), "instruments": many[:1001]})
    with pytest.raises(ValidationError, match="allowed_instruments"):
        RiskLimits(allowed_instruments=frozenset(many))
    assert (
        len(RiskLimits(allowed_instruments=frozenset(many[:10_000])).allowed_instruments or ())
        == 10_000
    )
