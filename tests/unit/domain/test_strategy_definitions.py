"""Strategy definitions: what is accepted, what is refused, and how refusals read."""

from typing import Any

import pytest
import yaml

from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.strategies.diff import diff_definitions
from quantdesk.domain.strategies.families import PARAMETER_MODELS, StrategyFamily, parameter_schema
from quantdesk.domain.strategies.problems import InvalidDefinitionError, parse_definition
from quantdesk.domain.strategies.versions import parse_ref
from support.registry import EXAMPLES


def base(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "strategy_id": "trend-a",
        "family": "trend_following",
        "name": "trend",
        "instruments": ["SYN01.SIM"],
        "parameters": {"fast_period": 10, "slow_period": 50, "trade_size": "1"},
    }
    return {**data, **overrides}


def refusal(data: dict[str, Any]) -> str:
    with pytest.raises(InvalidDefinitionError) as caught:
        parse_definition(data)
    return str(caught.value)


def test_every_family_has_an_example_that_parses() -> None:
    families = {
        parse_definition(yaml.safe_load(path.read_text())).family
        for path in EXAMPLES.glob("*.yaml")
    }
    assert families == set(StrategyFamily)  # custom: the delta-hedged straddle


def test_wrong_family_names_the_field_and_every_family() -> None:
    message = refusal(base(family="trend"))
    assert message.startswith("family: 'trend' is not a strategy family; allowed:")
    assert all(family.value in message for family in StrategyFamily)


def test_parameter_out_of_bounds_names_the_field_and_the_bounds() -> None:
    message = refusal(base(parameters={"fast_period": 900, "slow_period": 950, "trade_size": 1}))
    assert "parameters.fast_period" in message
    assert "got 900" in message and "2 <= value <= 500" in message


def test_unknown_parameter_names_the_field_and_the_known_ones() -> None:
    message = refusal(
        base(parameters={"fast_period": 5, "slow_period": 9, "trade_size": 1, "x": 1})
    )
    assert "parameters.x: unknown field; allowed: fast_period, slow_period, ma_type" in message


def test_unknown_top_level_field_is_refused() -> None:
    assert "colour: unknown field; allowed: strategy_id" in refusal(base(colour="red"))


def test_bad_instrument_id_names_the_entry_and_the_form() -> None:
    message = refusal(base(instruments=["SYN01.SIM", "AAPL"]))
    assert "instruments.1" in message and "SYMBOL.VENUE" in message


def test_literal_parameter_lists_allowed_values() -> None:
    params = {"fast_period": 5, "slow_period": 9, "trade_size": 1, "ma_type": "kama"}
    message = refusal(base(parameters=params))
    assert "parameters.ma_type" in message and "'ema'" in message and "'hull'" in message


def test_parameters_of_another_family_are_refused() -> None:
    message = refusal(base(parameters={"lookback": 20, "entry_zscore": 2, "trade_size": 1}))
    assert "parameters.lookback: unknown field" in message


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"bar_spec": "1-MIN-LAST"}, "bar_spec"),
        ({"strategy_id": "Not A Slug"}, "strategy_id"),
        ({"instruments": ["A.B", "A.B"]}, "listed twice"),
        ({"signal_subscriptions": ["GOSSIP"]}, "signal_subscriptions.0"),
        ({"risk": {"max_position": -1}}, "risk.max_position"),
        (
            {"parameters": {"fast_period": 50, "slow_period": 10, "trade_size": 1}},
            "must be below slow_period",
        ),
    ],
)
def test_other_rules_name_their_field(overrides: dict[str, Any], needle: str) -> None:
    assert needle in refusal(base(**overrides))


def test_family_rules_across_fields() -> None:
    pair = {"lookback": 60, "entry_zscore": 2, "trade_size": 1}
    assert "2 instruments" in refusal(
        base(family="statistical_arbitrage", parameters=pair, instruments=["A.B"])
    )
    sentiment = {"entry_threshold": 0.5, "trade_size": 1}
    assert "SENTIMENT" in refusal(base(family="sentiment_reaction", parameters=sentiment))


def test_content_hash_ignores_bookkeeping_and_representation() -> None:
    one = parse_definition(base())
    other = parse_definition(
        base(
            author="bob",
            reason="why not",
            version=3,
            created_at="2024-01-01T00:00:00Z",
            parameters={"fast_period": 10, "slow_period": 50, "trade_size": "1.000"},
        )
    )
    assert one.content_hash == other.content_hash
    assert parse_definition(base(name="other")).content_hash != one.content_hash


def test_signal_subscription_order_does_not_change_the_hash() -> None:
    one = parse_definition(base(signal_subscriptions=["SENTIMENT", "REGIME_PREDICTION"]))
    two = parse_definition(base(signal_subscriptions=["REGIME_PREDICTION", "SENTIMENT"]))
    assert one.content_hash == two.content_hash


def test_diff_is_field_level() -> None:
    old = parse_definition(base())
    new = parse_definition(
        base(
            instruments=["SYN02.SIM"],
            parameters={"fast_period": 12, "slow_period": 50, "trade_size": 1},
        )
    )
    assert [(c.path, c.old, c.new) for c in diff_definitions(old, new)] == [
        ("instruments", ["SYN01.SIM"], ["SYN02.SIM"]),
        ("parameters.fast_period", 10, 12),
    ]


def test_every_family_schema_gives_bounds_and_descriptions() -> None:
    for family, model in PARAMETER_MODELS.items():
        schema = parameter_schema(family)
        assert set(schema["properties"]) == set(model.model_fields)
        for name, spec in schema["properties"].items():
            assert spec.get("description"), f"{family.value}.{name} has no description"


def test_custom_paths_must_be_importable_form() -> None:
    params = {"strategy_path": "not a path", "config_path": "pkg.mod:Config"}
    assert "parameters.strategy_path" in refusal(base(family="custom", parameters=params))


def test_refs() -> None:
    assert parse_ref("ema") == ("ema", None)
    assert parse_ref("ema@3") == ("ema", "3")
    with pytest.raises(InvalidInputError):
        parse_ref("ema@")


def test_a_long_short_rotation_needs_twice_top_n_instruments() -> None:
    three = ["A.SIM", "B.SIM", "C.SIM"]
    rotation = {"lookback": 60, "top_n": 2, "trade_size": 1, "long_only": False}
    assert "at most half the instruments (3)" in refusal(
        base(family="momentum_rotation", parameters=rotation, instruments=three)
    )
    for parameters, instruments in (
        ({**rotation, "long_only": True}, three),  # long only: top_n below the count
        (rotation, [*three, "D.SIM"]),  # two leaders and two laggards of four
    ):
        parse_definition(
            base(family="momentum_rotation", parameters=parameters, instruments=instruments)
        )
