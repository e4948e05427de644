"""services/translation: a registry version as an engine spec and back; non-translations refused."""

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from quantdesk.domain.backtest import StrategySpec
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.strategies.canonical import canonical_json
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.domain.strategies.families import StrategyFamily
from quantdesk.services.translation import (
    FAMILY_CLASSES,
    RUN_OPTIONS,
    from_spec,
    nautilus_strategy_id,
    to_spec,
)

WHEN = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)


def trend(**changes: Any) -> StrategyDefinition:
    data: dict[str, Any] = {
        "strategy_id": "trend-a",
        "version": 3,
        "family": "trend_following",
        "name": "Trend A",
        "description": "crosses",
        "instruments": ["AAA.SIM"],
        "bar_spec": "5-MINUTE-LAST",
        "parameters": {"fast_period": 5, "slow_period": 20, "trade_size": "1.50"},
        "signal_subscriptions": ["VOLATILITY_FORECAST"],
        "risk": {"max_position": "10"},
        "author": "ana",
        "created_at": WHEN,
        "reason": "tighter",
        **changes,
    }
    return StrategyDefinition.model_validate(data)


def custom() -> StrategyDefinition:
    return StrategyDefinition.model_validate(
        {
            "strategy_id": "mine",
            "version": 1,
            "family": "custom",
            "name": "Mine",
            "instruments": ["AAA.SIM", "BBB.SIM"],
            "parameters": {
                "strategy_path": "my_pkg.strat:Mine",
                "config_path": "my_pkg.strat:MineConfig",
                "config": {"window": 7, "flat_at_stop": True, "nested": {"a": [1, 2.5]}},
                "config_schema": {"type": "object", "required": ["window"]},
            },
        }
    )


def with_config(spec: StrategySpec, **changes: Any) -> StrategySpec:
    return spec.model_copy(update={"config": {**spec.config, **changes}})


def test_family_config_spells_parameters_field_by_field() -> None:
    definition = trend()
    spec = to_spec(definition, flat_at_stop=True, trade_until_ns=123)
    assert (spec.strategy_path, spec.config_path) == (
        "quantdesk.strategies.trend_following:TrendFollowing",
        "quantdesk.strategies.trend_following:TrendFollowingConfig",
    )
    config = spec.config
    assert config["fast_period"] == 5 and config["slow_period"] == 20
    assert config["ma_type"] == "ema" and config["long_only"] is False
    assert config["trade_size"] == "1.5"  # canonical decimal string
    assert "atr_stop_multiple" in config and config["atr_stop_multiple"] is None
    assert config["instrument_ids"] == ["AAA.SIM"]
    assert config["bar_spec"] == "5-MINUTE-LAST"
    assert config["signal_types"] == ["VOLATILITY_FORECAST"]
    assert config["strategy_id"] == "trend-a@3"
    assert config["order_id_tag"] == definition.content_hash[:8]
    assert (config["flat_at_stop"], config["trade_until_ns"]) == (True, 123)
    assert nautilus_strategy_id(definition) == f"trend-a@3-{definition.content_hash[:8]}"


def test_registry_record_holds_what_the_config_has_no_field_for() -> None:
    definition = trend()
    record = json.loads(to_spec(definition).config["registry"])
    assert record == {
        "strategy_id": "trend-a",
        "version": 3,
        "family": "trend_following",
        "name": "Trend A",
        "description": "crosses",
        "risk": json.loads(definition.risk.model_dump_json()) | {"max_position": "10"},
        "author": "ana",
        "created_at": WHEN.isoformat(),
        "reason": "tighter",
        "content_hash": definition.content_hash,
    }


def test_family_round_trip_is_exact() -> None:
    definition = trend()
    back = from_spec(to_spec(definition, flat_at_stop=True, trade_until_ns=5))
    assert back == definition
    assert back.content_hash == definition.content_hash
    assert back.created_at == WHEN and back.author == "ana"
    assert back.parameters.model_dump()["trade_size"] == Decimal("1.5")


def test_every_family_has_its_module_path() -> None:
    assert set(FAMILY_CLASSES) == set(StrategyFamily) - {StrategyFamily.CUSTOM}
    for family, plugin in FAMILY_CLASSES.items():
        module = f"quantdesk.strategies.{family.value}"
        assert plugin.strategy_path.startswith(f"{module}:")
        assert plugin.config_path == f"{plugin.strategy_path}Config"
    assert {"flat_at_stop", "trade_until_ns"} == RUN_OPTIONS


def test_custom_config_gets_engine_keys_and_round_trips() -> None:
    definition = custom()
    spec = to_spec(definition)
    assert spec.strategy_path == "my_pkg.strat:Mine"
    assert spec.config["window"] == 7 and spec.config["nested"] == {"a": [1, 2.5]}
    assert spec.config["flat_at_stop"] is True  # the user's own value stays
    assert spec.config["strategy_id"] == "mine@1"
    assert from_spec(spec) == definition
    # decoding adds the class's defaults: still the same definition
    assert from_spec(with_config(spec, other_default=None, flat_at_stop=False)) == definition


def test_unregistered_definition_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="no version"):
        to_spec(trend(version=None))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"registry": ""}, "no 'registry' record"),
        ({"registry": "{not json"}, "not JSON"),
        ({"registry": "[1]"}, "not a JSON object"),
        ({"registry": '{"family":"trend_following"}'}, "missing fields"),
        ({"strategy_id": "trend-a@4"}, "strategy_id 'trend-a@4' does not match"),
        ({"order_id_tag": "00000000"}, "order_id_tag '00000000' does not match"),
        ({"fast_period": 6}, "order_id_tag"),  # content changed, tag is the old one
        ({"fast_period": 30}, "fast_period"),  # breaks the model's rule
        ({"surprise": 1}, "does not know: \\['surprise'\\]"),
    ],
)
def test_a_spec_that_is_not_a_translation_is_refused(change: dict[str, Any], message: str) -> None:
    spec = with_config(to_spec(trend()), **change)
    with pytest.raises(InvalidInputError, match=message) as caught:
        from_spec(spec)
    assert caught.value.hint is not None


def test_missing_parameter_key_is_refused() -> None:
    spec = to_spec(trend())
    config = {k: v for k, v in spec.config.items() if k != "ma_type"}
    with pytest.raises(InvalidInputError, match="lacks \\['ma_type'\\]"):
        from_spec(spec.model_copy(update={"config": config}))


def test_unknown_or_mismatched_paths_are_refused() -> None:
    spec = to_spec(trend())
    wrong = spec.model_copy(update={"strategy_path": "elsewhere.mod:TrendFollowing"})
    with pytest.raises(InvalidInputError, match="not a family strategy's"):
        from_spec(wrong)
    other = FAMILY_CLASSES[StrategyFamily.MEAN_REVERSION]
    swapped = spec.model_copy(update={"strategy_path": other.strategy_path})
    with pytest.raises(InvalidInputError, match="is family mean_reversion"):
        from_spec(swapped)
    config_path = spec.model_copy(update={"config_path": other.config_path})
    with pytest.raises(InvalidInputError, match="config path"):
        from_spec(config_path)


def test_tampered_record_is_refused() -> None:
    spec = to_spec(trend())
    record = json.loads(spec.config["registry"])
    record["content_hash"] = "0" * 64
    with pytest.raises(InvalidInputError, match="content hash does not match"):
        from_spec(with_config(spec, registry=canonical_json(record)))
    with pytest.raises(InvalidInputError, match="canonical form"):
        from_spec(with_config(spec, registry=json.dumps(json.loads(spec.config["registry"]))))


def test_custom_config_edited_away_from_its_record_is_refused() -> None:
    spec = to_spec(custom())
    with pytest.raises(InvalidInputError, match="'window' is not the record's"):
        from_spec(with_config(spec, window=8))
    with pytest.raises(InvalidInputError, match="paths"):
        from_spec(spec.model_copy(update={"strategy_path": "my_pkg.strat:Other"}))
