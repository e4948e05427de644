"""Identifiers are matched whole, names and free text stay printable, limits match the columns.

Issue 12 item 5: ``strategy_id: "trend-btc\\n"`` registered a second strategy that listed as
``trend-btc``, because ``re.match`` lets ``$`` match before a trailing newline. Every
identifier validator is run here with control characters and whitespace around valid ids.
"""

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from quantdesk.domain.backtest import StrategySpec, VenueSpec
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.instruments import AssetClass, InstrumentSpec, validate_instrument_id
from quantdesk.domain.market_data import BarSpec
from quantdesk.domain.risk import KillSwitchEvent, RiskConfig, RiskConstraints
from quantdesk.domain.signals import Provenance, canonical_signal_id
from quantdesk.domain.strategies.families import CustomParameters
from quantdesk.domain.strategies.problems import InvalidDefinitionError, parse_definition
from quantdesk.domain.strategies.versions import (
    VERSION_MAX,
    parse_ref,
    validate_tag,
    validate_version,
)
from quantdesk.domain.text import ACTOR_MAX_LENGTH, shown, validate_actor, validate_reason


def definition(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "strategy_id": "trend-btc",
        "family": "trend_following",
        "name": "trend",
        "instruments": ["BTCUSDT.BINANCE"],
        "parameters": {"fast_period": 10, "slow_period": 50, "trade_size": "1"},
    }
    return {**data, **overrides}


def strategy_id(value: str) -> str:
    return parse_definition(definition(strategy_id=value)).strategy_id


def fx(**overrides: Any) -> InstrumentSpec:
    values: dict[str, Any] = {
        "instrument_id": "EUR/USD.SIM",
        "asset_class": AssetClass.FX,
        "currency": "USD",
        "base_currency": "EUR",
        "tick_size": Decimal("0.00001"),
    }
    return InstrumentSpec.model_validate({**values, **overrides})


def provenance(**overrides: str) -> Provenance:
    values = {"trace_id": "t-1", "producer": "vol-garch", "model_version": "1.0", **overrides}
    return Provenance.model_validate(values)


# Every identifier validator, each from a valid id to what it accepts (raises when refused).
VALIDATORS: dict[str, tuple[str, Callable[[str], object]]] = {
    "strategy id": ("trend-btc", strategy_id),
    "strategy ref": ("trend-btc@live", lambda v: "@".join(filter(None, parse_ref(v)))),
    "tag": ("live", validate_tag),
    "version": ("12", validate_version),
    "instrument id": ("EUR/USD.SIM", validate_instrument_id),
    "instrument spec id": ("EUR/USD.SIM", lambda v: fx(instrument_id=v).instrument_id),
    "currency": ("USD", lambda v: fx(currency=v).currency),
    "base currency": ("EUR", lambda v: fx(base_currency=v).base_currency),
    "definition instrument": (
        "BTCUSDT.BINANCE",
        lambda v: parse_definition(definition(instruments=[v])).instruments[0],
    ),
    "allowed instrument": (
        "BTCUSDT.BINANCE",
        lambda v: next(
            iter(RiskConstraints(allowed_instruments=frozenset({v})).allowed_instruments or ())
        ),
    ),
    "bar spec": ("1-MINUTE-LAST", lambda v: str(BarSpec.parse(v))),
    "import path": (
        "pkg.module:Strategy",
        lambda v: CustomParameters(strategy_path=v, config_path="pkg.module:Config").strategy_path,
    ),
    "signal id": ("0f8fad5b-d9cb-469f-a165-70867728950e", canonical_signal_id),
    "signal producer": ("vol-garch", lambda v: provenance(producer=v).producer),
    "signal model version": ("1.0", lambda v: provenance(model_version=v).model_version),
    "signal trace id": ("t-1", lambda v: provenance(trace_id=v).trace_id),
    "kill switch action": ("kill", lambda v: KillSwitchEvent(ts_ns=0, action=v).action),
    "kill switch target": (
        "Reckless-A",
        lambda v: KillSwitchEvent(ts_ns=0, action="kill", scope="strategy", target=v).target,
    ),
    "order submit rate": (
        "100/00:00:01",
        lambda v: RiskConfig(max_order_submit_rate=v).max_order_submit_rate,
    ),
    "venue name": ("SIM", lambda v: VenueSpec(name=v).name),
    "backtest strategy path": (
        "pkg.module:Strategy",
        lambda v: StrategySpec(strategy_path=v, config_path="a:B", config={}).strategy_path,
    ),
    "actor": ("alice", validate_actor),
}
REFUSED = (ValueError, InvalidInputError, ValidationError)
# C0 and C1 controls, DEL, and the whitespace Python and Unicode know.
AROUND = st.sampled_from(
    [chr(c) for c in range(0x20)] + ["\x7f", "\x85", " ", "\u00a0", "\u2028", "\u2029", "\ufeff"]
)


def accepted(name: str, value: str) -> str | None:
    """What the validator keeps of ``value`` (as text), or None when it refuses it."""
    try:
        kept = VALIDATORS[name][1](value)
    except REFUSED:
        return None
    return str(kept)


def clean(text: str) -> bool:
    controls = any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in text)
    return not controls and text == text.strip() and text.strip("\ufeff") == text


@pytest.mark.parametrize("name", sorted(VALIDATORS))
def test_each_validator_accepts_its_valid_id(name: str) -> None:
    valid, _ = VALIDATORS[name]
    assert accepted(name, valid) is not None


@pytest.mark.parametrize("name", sorted(VALIDATORS))
def test_a_trailing_newline_never_passes_unchanged(name: str) -> None:
    valid, _ = VALIDATORS[name]
    kept = accepted(name, valid + "\n")
    assert kept is None or kept == accepted(name, valid), kept


def test_the_issue_repro_trend_btc_newline_is_refused() -> None:
    with pytest.raises(InvalidDefinitionError, match=r"strategy_id: strategy id 'trend-btc\\n'"):
        parse_definition(definition(strategy_id="trend-btc\n"))
    # 63 characters and a newline: what PostgreSQL's VARCHAR(63) refused with a DataError
    with pytest.raises(InvalidDefinitionError, match="not a slug"):
        parse_definition(definition(strategy_id="a" * 63 + "\n"))
    for ref in ("trend-btc\n", "trend-btc@live\n", "trend-btc\n@live", "trend-btc@3\n"):
        with pytest.raises(InvalidInputError):
            parse_ref(ref)


@settings(max_examples=300, deadline=None)
@given(
    name=st.sampled_from(sorted(VALIDATORS)),
    before=st.lists(AROUND, max_size=2).map("".join),
    after=st.lists(AROUND, max_size=2).map("".join),
    noise=st.text(max_size=8),
)
def test_no_accepted_identifier_carries_control_characters_or_padding(
    name: str, before: str, after: str, noise: str
) -> None:
    # Property: identifiers are matched whole: whatever surrounds or replaces a valid id,
    # no validator accepts a value that contains a control character or whitespace at
    # either end (a normalising validator may accept it, but keeps only the clean id).
    valid, _ = VALIDATORS[name]
    for candidate in (before + valid + after, noise, valid + noise):
        kept = accepted(name, candidate)
        assert kept is None or clean(kept), (name, candidate, kept)


# --- versions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ref", ["trend-btc@99999999999999999999999", "trend-btc@0", f"trend-btc@{VERSION_MAX + 1}"]
)
def test_a_version_outside_the_column_is_a_clear_error(ref: str) -> None:
    with pytest.raises(InvalidInputError, match=f"not a version number: 1 to {VERSION_MAX}"):
        parse_ref(ref)


def test_the_largest_version_and_unicode_digits() -> None:
    assert parse_ref(f"trend-btc@{VERSION_MAX}") == ("trend-btc", str(VERSION_MAX))
    for odd in ("²", "٣", "-1", "+1", " 1"):
        with pytest.raises(InvalidInputError):
            parse_ref(f"trend-btc@{odd}")


# --- names, authors, reasons ---------------------------------------------------------------


def test_actor_limits_match_the_column() -> None:
    assert validate_actor("  alice  ") == "alice"
    assert validate_actor("a" * ACTOR_MAX_LENGTH) == "a" * ACTOR_MAX_LENGTH
    with pytest.raises(InvalidInputError, match="too long: at most 200") as caught:
        validate_actor("a" * 300)
    assert len(str(caught.value)) < 300  # the value is cut, not echoed
    for bad in ("a\x00b", "bob\x1b[31m", "a\nb", "a\u2028b", "a\x85b", "  "):
        with pytest.raises(InvalidInputError):
            validate_actor(bad)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "a\x00b"),
        ("name", "two\nlines"),
        ("name", "x" * 201),
        ("description", "bell\x07"),
        ("description", "x" * 10_001),
        ("reason", "nul\x00"),
        ("reason", "x" * 2001),
        ("author", "a" * 201),
        ("author", "esc\x1b"),
    ],
)
def test_text_fields_refuse_what_a_column_could_not_hold(field: str, value: str) -> None:
    with pytest.raises(InvalidDefinitionError, match=field) as caught:
        parse_definition(definition(**{field: value}))
    assert len(str(caught.value)) < 600


def test_free_text_keeps_tabs_and_newlines() -> None:
    parsed = parse_definition(definition(description="line 1\n\tline 2", reason="why\nnow"))
    assert parsed.description == "line 1\n\tline 2"
    assert validate_reason("because\n\tof this") == "because\n\tof this"
    with pytest.raises(InvalidInputError, match="control character"):
        validate_reason("nul\x00")


def test_a_huge_value_is_never_echoed_whole() -> None:
    huge = "a" * 1_000_000 + "\n"
    for name in VALIDATORS:
        try:
            VALIDATORS[name][1](huge)
        except REFUSED as error:
            assert len(str(error)) < 2000, name
    assert shown("x" * 1000).endswith("... (1000 characters)")


@pytest.mark.parametrize(
    "rate",
    [
        "99999999999999999999/00:00:01",
        "0/00:00:01",
        "100/00:00:00",
        "100/00:99:00",
        "\u0661\u0660\u0660/00:00:01",
    ],
)
def test_an_order_rate_the_engine_cannot_take_is_refused(rate: str) -> None:
    # the engine raised OverflowError or ValueError on each of these at engine start
    with pytest.raises(ValidationError, match="not an order rate LIMIT/HH:MM:SS"):
        RiskConfig(max_order_submit_rate=rate)


@pytest.mark.parametrize(
    "changes",
    [{"ts_ns": 2**63}, {"ts_ns": -1}, {"reason": "nul\x00"}, {"target": "a" * 201}],
)
def test_a_scheduled_kill_switch_is_bounded(changes: dict[str, object]) -> None:
    values = {"ts_ns": 0, "action": "kill", "scope": "strategy", "target": "s-1", **changes}
    with pytest.raises(ValidationError, match=next(iter(changes))):
        KillSwitchEvent.model_validate(values)


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("999999999-WEEK-LAST", "longer than ten years"),
        ("99999999999999999999-MINUTE-LAST", "is not STEP-AGGREGATION-PRICE_TYPE"),
        ("0-MINUTE-LAST", "greater than 0"),
    ],
)
def test_a_bar_spec_is_bounded_and_refused_in_one_line(spec: str, says: str) -> None:
    # a bar longer than the int64 ns range overflowed when timestamps were shifted by it
    with pytest.raises(ValueError, match=says) as caught:
        BarSpec.parse(spec)
    assert "\n" not in str(caught.value)
    assert str(BarSpec.parse("521-WEEK-LAST")) == "521-WEEK-LAST"
