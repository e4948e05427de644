"""The request model refuses what the engine could not run as stated (issue 12, item 8)."""

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from quantdesk.domain.backtest import BacktestRequest, StrategySpec, VenueSpec
from quantdesk.domain.backtest_checks import (
    SEED_MAX,
    error_location,
    strategy_identity,
)
from quantdesk.domain.time import TS_MAX_NS, TS_MIN_NS
from support.registry import trend


def strategy(tag: str | None = "A", instrument: str = "X.SIM", **config: Any) -> dict[str, Any]:
    """An old-style strategy entry (import paths and a config): no longer a request's."""
    config = {"instrument_id": instrument, **config}
    if tag is not None:
        config["order_id_tag"] = tag
    return {"strategy_path": "pkg.mod:Cls", "config_path": "pkg.mod:ClsConfig", "config": config}


def request(**fields: Any) -> dict[str, Any]:
    return {"strategies": ["trend-a"], **fields}


def refusal(data: dict[str, Any]) -> tuple[tuple[str | int, ...], str, str]:
    with pytest.raises(ValidationError) as caught:
        BacktestRequest.model_validate(data)
    first = caught.value.errors()[0]
    return error_location(first), first["type"], first["msg"]


@pytest.mark.parametrize("field", ["start_ns", "end_ns"])
@pytest.mark.parametrize("value", [-1, TS_MAX_NS + 1, 2**63, 2**64, -(2**200), 10**40])
def test_timestamps_outside_the_engines_range_are_refused(field: str, value: int) -> None:
    location, code, message = refusal(request(**{field: value}))
    assert location == (field,) and code == "timestamp_out_of_range"
    assert "outside the range the engine can hold" in message and len(message) < 200


def test_the_range_edges_are_accepted() -> None:
    accepted = BacktestRequest.model_validate(request(start_ns=TS_MIN_NS, end_ns=TS_MAX_NS))
    assert (accepted.start_ns, accepted.end_ns) == (TS_MIN_NS, TS_MAX_NS)


def test_a_start_after_the_end_names_the_start() -> None:
    location, code, message = refusal(request(start_ns=10, end_ns=5))
    assert location == ("start_ns",) and code == "start_after_end"
    assert "is after end" in message


@pytest.mark.parametrize("seed", [-1, SEED_MAX + 1, 2**100])
def test_seeds_outside_0_to_2_63_are_refused(seed: int) -> None:
    location, _, _ = refusal(request(seed=seed))
    assert location == ("seed",)


def test_seed_edges_are_accepted() -> None:
    for seed in (0, SEED_MAX):
        assert BacktestRequest.model_validate(request(seed=seed)).seed == seed


@pytest.mark.parametrize(
    ("venue", "field"),
    [
        ({"starting_balance": "-5"}, "starting_balance"),
        ({"starting_balance": "0"}, "starting_balance"),
        ({"starting_balance": "1e999999"}, "starting_balance"),
        ({"starting_balance": "0.0000000001"}, "starting_balance"),
        ({"starting_balance": "NaN"}, "starting_balance"),
        ({"default_leverage": "0"}, "default_leverage"),
        ({"default_leverage": "1e999999"}, "default_leverage"),
        ({"maker_fee": "0.5"}, "maker_fee"),
        ({"taker_fee": "-1"}, "taker_fee"),
        ({"bar_spread": "-0.01"}, "bar_spread"),
        ({"bar_spread": "1e30"}, "bar_spread"),
        ({"base_currency": "usd\n"}, "base_currency"),
    ],
)
def test_venue_numbers_are_bounded(venue: dict[str, str], field: str) -> None:
    location, _, message = refusal(request(venues=[{"name": "SIM", **venue}]))
    assert location == ("venues", 0, field)
    assert len(message) < 300  # never a megabyte of digits echoed back


def test_an_accepted_balance_is_kept_plain() -> None:
    venue = VenueSpec.model_validate({"starting_balance": "1E+6", "default_leverage": "2.50"})
    assert str(venue.starting_balance) == "1000000" and str(venue.default_leverage) == "2.5"


@pytest.mark.parametrize(
    "engine",
    [{"chunk_size": 2**62}, {"purge_interval_minutes": 2**62}, {"purge_interval_minutes": 0}],
)
def test_engine_options_are_bounded(engine: dict[str, int]) -> None:
    location, _, _ = refusal(request(engine=engine))
    assert location[0] == "engine"


def test_a_strategy_listed_twice_names_the_second() -> None:
    location, code, message = refusal(request(strategies=["trend-a@2", "trend-b", "trend-a@2"]))
    assert location == ("strategies", 2)
    assert code == "duplicate_strategy" and "'trend-a@2'" in message


@pytest.mark.parametrize(
    ("ref", "says"),
    [
        ("Trend", "ID, ID@VERSION or ID@TAG"),
        ("trend@", "ID, ID@VERSION or ID@TAG"),
        ("a b", "ID, ID@VERSION or ID@TAG"),
        ("", "ID, ID@VERSION or ID@TAG"),
        ("trend@0", "not a version number"),
    ],
)
def test_a_malformed_reference_is_refused_by_position(ref: str, says: str) -> None:
    location, code, message = refusal(request(strategies=["ok", ref]))
    assert location == ("strategies", 1) and code == "strategy_reference"
    assert says in message


def test_references_by_id_version_and_tag_are_accepted() -> None:
    refs = ["trend-a", "trend-b@3", "pairs@live"]
    assert BacktestRequest.model_validate(request(strategies=refs)).strategies == refs


@pytest.mark.parametrize(
    ("fields", "location"),
    [
        ({"strategies": [strategy()]}, ("strategies", 0)),
        ({"strategies": ["trend-a", strategy()]}, ("strategies", 1)),
        ({"instruments": ["X.SIM"]}, ("instruments",)),
        ({"bar_spec": "1-MINUTE-LAST"}, ("bar_spec",)),
    ],
)
def test_an_old_style_request_is_refused_saying_what_to_do(
    fields: dict[str, Any], location: tuple[str | int, ...]
) -> None:
    """Import paths, instruments and bar specs no longer come from requests."""
    found, _, message = refusal(request(**fields))
    assert found == location
    assert "registry references now" in message and "strategy add" in message


def test_constraints_must_name_a_strategy_of_the_run() -> None:
    ok = request(strategies=["trend-a@2", "pairs"], risk={"constraints": {"trend-a@2": {}}})
    assert BacktestRequest.model_validate(ok).risk.constraints
    by_id = request(strategies=["trend-a@2"], risk={"constraints": {"trend-a": {}}})
    assert BacktestRequest.model_validate(by_id).risk.constraints
    location, code, message = refusal(
        request(strategies=["trend-a"], risk={"constraints": {"EmaCross-A": {}}})
    )
    assert location == ("risk", "constraints", "EmaCross-A")
    assert code == "constraints_for_unknown_strategy" and "trend-a" in message


def test_pinned_definitions_must_match_the_references() -> None:
    definition = trend().model_copy(update={"version": 2})
    pinned = BacktestRequest.model_validate(
        request(strategies=["trend-a@2"], pinned=[definition.model_dump()])
    )
    assert pinned.pinned == [definition]
    location, code, _ = refusal(request(strategies=["trend-a@1"], pinned=[definition.model_dump()]))
    assert location == ("pinned",) and code == "pinned_mismatch"


@pytest.mark.parametrize("value", [-1, TS_MAX_NS + 1])
def test_trade_until_is_a_time_the_engine_can_hold(value: int) -> None:
    location, code, _ = refusal(request(trade_until_ns=value))
    assert location == ("trade_until_ns",) and code == "timestamp_out_of_range"


def test_strategy_identity_follows_the_engine() -> None:
    assert strategy_identity("a.b:EmaCross", {"order_id_tag": "X"}) == "EmaCross-X"
    assert strategy_identity("a.b:EmaCross", {"strategy_id": "S", "order_id_tag": "X"}) == "S-X"


def test_a_venue_listed_twice_names_the_second() -> None:
    location, code, _ = refusal(request(venues=[{"name": "SIM"}, {"name": "SIM"}]))
    assert location == ("venues", 1, "name") and code == "duplicate_venue"


@pytest.mark.parametrize("label", ["a\nb", "x" * 201, "\x00"])
def test_labels_are_one_bounded_line(label: str) -> None:
    location, _, _ = refusal(request(label=label))
    assert location == ("label",)


def test_unknown_keys_are_refused_at_every_level() -> None:
    nested: list[dict[str, Any]] = [
        request(bogus=1),
        request(venues=[{"name": "SIM", "bogus": 1}]),
        request(venues=[{"name": "SIM", "fill_model": {"bogus": 1}}]),
        request(risk={"bogus": 1}),
        request(risk={"limits": {"bogus": 1}}),
        request(engine={"bogus": 1}),
    ]
    for data in nested:
        location, code, _ = refusal(data)
        assert code == "extra_forbidden" and location[-1] == "bogus"


def test_a_default_venue_is_valid() -> None:
    assert BacktestRequest.model_validate(request()).venue("SIM").starting_balance == Decimal(
        1_000_000
    )


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (float("inf"), "inf is not a finite number"),
        (float("nan"), "nan is not a finite number"),
        (2**64, "does not fit in 64 bits"),
        ([1, {"deep": -(2**70)}], "does not fit in 64 bits"),
        (2**300, "an integer of 301 bits"),
    ],
)
def test_a_strategy_config_holds_only_what_the_engine_decodes(value: Any, problem: str) -> None:
    with pytest.raises(ValidationError) as caught:
        StrategySpec.model_validate({**strategy(), "config": {"trade_size": value}})
    (detail,) = caught.value.errors()
    assert error_location(detail) == ("config", "trade_size")
    assert problem in detail["msg"]


def test_a_config_of_ordinary_values_is_kept() -> None:
    config = {"trade_size": 2**63, "fast": 1.5, "tags": ["a"], "nested": {"x": None}}
    assert StrategySpec.model_validate({**strategy(), "config": config}).config == config


def test_names_and_paths_are_bounded() -> None:
    long_path = {**strategy(), "strategy_path": "a" * 400 + ":B"}
    with pytest.raises(ValidationError) as caught:
        StrategySpec.model_validate(long_path)
    assert error_location(caught.value.errors()[0]) == ("strategy_path",)
    assert refusal(request(venues=[{"name": "V" * 101}]))[0] == ("venues", 0, "name")
