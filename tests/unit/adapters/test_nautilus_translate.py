"""adapters/nautilus/translate: the full round trip through the config object the engine builds.

definition -> spec -> ImportableStrategyConfig -> decoded config (as ``StrategyFactory`` does)
-> spec -> definition, for every family (Property 10) and for a custom plug-in.
"""

import json
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nautilus_trader.config import ImportableStrategyConfig
from nautilus_trader.trading.config import StrategyFactory

from quantdesk.adapters.nautilus.translate import decode, spec_of, to_importable
from quantdesk.domain.backtest import StrategySpec
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.domain.strategies.families import StrategyFamily
from quantdesk.services.translation import from_spec, to_spec
from support.definition_strategies import FAMILIES, definitions
from support.plugin_desk import TEST_PLUGINS


def hyphenated(definition: StrategyDefinition) -> StrategyDefinition:
    """The same definition under an id with a hyphen (see test_an_id_without_a_hyphen...)."""
    data = definition.model_dump()
    data["strategy_id"] = f"{definition.strategy_id[:40]}-x"
    return StrategyDefinition.model_validate(data)


def round_trip(spec: StrategySpec) -> StrategySpec:
    return spec_of(spec.strategy_path, spec.config_path, decode(spec))


# Property 10: definition -> Nautilus config object -> definition is equal, every family
@pytest.mark.parametrize("family", FAMILIES)
@settings(max_examples=100, suppress_health_check=list(HealthCheck), deadline=None)
@given(data=st.data())
def test_definition_round_trips_through_the_decoded_config(
    family: StrategyFamily, data: st.DataObject
) -> None:
    definition = hyphenated(data.draw(definitions(family)))
    flat, until = data.draw(st.booleans()), data.draw(st.none() | st.integers(0, 2**62))
    spec = to_spec(definition, flat_at_stop=flat, trade_until_ns=until)
    config = decode(spec)
    assert type(config).__name__ == spec.config_path.rsplit(":", 1)[1]
    assert config.flat_at_stop is flat and config.trade_until_ns == until
    back = spec_of(spec.strategy_path, spec.config_path, config)
    assert back == spec  # decimals canonical again, engine defaults dropped
    assert from_spec(back) == definition
    assert from_spec(back).content_hash == definition.content_hash


@pytest.mark.parametrize("family", FAMILIES)
@settings(max_examples=10, suppress_health_check=list(HealthCheck), deadline=None)
@given(data=st.data())
def test_the_engine_builds_the_strategy_named_by_version(
    family: StrategyFamily, data: st.DataObject
) -> None:
    definition = hyphenated(data.draw(definitions(family)))
    spec = to_spec(definition)
    importable = to_importable(spec)
    assert isinstance(importable, ImportableStrategyConfig)
    assert (importable.strategy_path, importable.config_path) == (
        spec.strategy_path,
        spec.config_path,
    )
    strategy = StrategyFactory.create(importable)
    tag = definition.content_hash[:8]
    assert str(strategy.id) == f"{definition.strategy_id}@{definition.version}-{tag}"


def test_decimal_fields_decode_from_canonical_strings() -> None:
    definition = StrategyDefinition.model_validate(
        {
            "strategy_id": "rot-a",
            "version": 1,
            "family": "momentum_rotation",
            "name": "rot",
            "instruments": ["AAA.SIM", "BBB.SIM"],
            "parameters": {"trade_size": "0.000000001"},
        }
    )
    spec = to_spec(definition)
    assert spec.config["trade_size"] == "0.000000001"
    config = decode(spec)
    assert config.trade_size == Decimal("1E-9")  # type: ignore[attr-defined]
    assert config.json().count(b'"1E-9"') == 1  # what json() writes; spec_of re-canonicalises
    assert round_trip(spec) == spec


def test_an_id_without_a_hyphen_decodes() -> None:
    definition = StrategyDefinition.model_validate(
        {
            "strategy_id": "momentum",
            "version": 2,
            "family": "execution",
            "name": "m",
            "instruments": ["AAA.SIM"],
            "parameters": {"algorithm": "twap", "side": "buy", "total_quantity": "5"},
        }
    )
    assert from_spec(round_trip(to_spec(definition))) == definition


def test_custom_plugin_decodes_and_keeps_its_record(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A custom config class on QuantdeskStrategyConfig keeps the ``registry`` record when
    decoded, so the decoded object translates back to the same definition."""
    monkeypatch.syspath_prepend(str(TEST_PLUGINS))
    definition = StrategyDefinition.model_validate(
        {
            "strategy_id": "buyer-1",
            "version": 4,
            "family": "custom",
            "name": "buyer",
            "instruments": ["AAA.SIM"],
            "parameters": {
                "strategy_path": "qd_test_plugins.buyer:Buyer",
                "config_path": "qd_test_plugins.buyer:BuyerConfig",
                "config": {
                    "instrument_id": "AAA.SIM",
                    "bar_type": "AAA.SIM-1-MINUTE-LAST-EXTERNAL",
                    "quantity": 5,
                },
            },
        }
    )
    spec = to_spec(definition, flat_at_stop=True)
    assert from_spec(spec) == definition
    config = decode(spec)
    assert config.quantity == 5 and config.flat_at_stop is True  # type: ignore[attr-defined]
    back = spec_of(spec.strategy_path, spec.config_path, config)
    assert back.config["signal_types"] == []  # the class's defaults come along
    assert from_spec(back) == definition  # the record survives decoding (a base field)


@pytest.mark.parametrize(
    ("config_path", "message"),
    [
        ("no_such_module_xyz:Config", "cannot be imported"),
        ("quantdesk.domain.errors:InvalidInputError", "not a NautilusTrader config class"),
        ("nautilus_trader.config:ImportableStrategyConfig", "not a strategy config class"),
    ],
)
def test_bad_config_classes_are_named(config_path: str, message: str) -> None:
    spec = StrategySpec(strategy_path="x.y:Z", config_path=config_path, config={})
    with pytest.raises(InvalidInputError, match=message):
        decode(spec)


def test_a_config_of_the_wrong_type_is_named() -> None:
    spec = StrategySpec(
        strategy_path="quantdesk.strategies.execution:Execution",
        config_path="quantdesk.strategies.execution:ExecutionConfig",
        config={"instrument_ids": "AAA.SIM", "algorithm": "twap", "side": "buy"},
    )
    with pytest.raises(InvalidInputError, match="instrument_ids"):
        decode(spec)


# Property 12: versions and audit data survive translation (read off the decoded config)
@settings(max_examples=100, suppress_health_check=list(HealthCheck), deadline=None)
@given(data=st.data())
def test_bookkeeping_and_hash_survive_in_the_decoded_config(data: st.DataObject) -> None:
    definition = hyphenated(data.draw(definitions()))
    config = decode(to_spec(definition))
    record = json.loads(config.registry)  # type: ignore[attr-defined]
    created = definition.created_at
    assert (record["version"], record["author"], record["reason"]) == (
        definition.version,
        definition.author,
        definition.reason,
    )
    assert record["created_at"] == (None if created is None else created.isoformat())
    assert record["content_hash"] == definition.content_hash
    assert str(config.strategy_id) == f"{definition.strategy_id}@{definition.version}"
    assert definition.content_hash.startswith(str(config.order_id_tag))
