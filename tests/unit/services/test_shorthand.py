"""Shorthands (``ema_cross``, ``sentiment_reaction``) become registry definitions, one per
instrument, with run options split off: what ``backtest run --strategy NAME --param ...`` ran
before the registry keeps running, as a registered version."""

import pytest

from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.strategies.families import SentimentReactionParameters
from quantdesk.domain.strategies.problems import InvalidDefinitionError
from quantdesk.services.shorthand import SHORTHANDS, shorthand_definitions


def test_one_definition_per_instrument_with_its_own_id() -> None:
    run = shorthand_definitions("ema_cross", ["SYN01.SIM", "SYN02.SIM"], "5-MINUTE-LAST", {})
    assert [d.strategy_id for d in run.definitions] == ["ema_cross-syn01", "ema_cross-syn02"]
    assert [d.instruments for d in run.definitions] == [("SYN01.SIM",), ("SYN02.SIM",)]
    assert {d.bar_spec for d in run.definitions} == {"5-MINUTE-LAST"}


def test_run_options_leave_the_definition() -> None:
    params = {"fast": 5, "slow": 20, "flat_at_stop": True, "trade_until_ns": 7}
    run = shorthand_definitions("ema_cross", ["SYN01.SIM"], "1-MINUTE-LAST", params)
    assert run.run_options == {"flat_at_end": True, "trade_until_ns": 7}
    (definition,) = run.definitions
    assert "flat_at_stop" not in definition.canonical_json
    assert "trade_until_ns" not in definition.canonical_json


def test_the_same_parameters_give_the_same_content() -> None:
    """Re-running a shorthand unchanged finds its version instead of making a new one."""

    def hashes(**params: object) -> list[str]:
        run = shorthand_definitions("ema_cross", ["SYN01.SIM"], "1-MINUTE-LAST", params)
        return [d.content_hash for d in run.definitions]

    assert hashes(fast=5, slow=20) == hashes(fast=5, slow=20)
    assert hashes(fast=5, slow=20) != hashes(fast=6, slow=20)


def test_sentiment_takes_the_familys_own_names_and_subscribes() -> None:
    params = {"entry_threshold": 0.4, "exit_threshold": 0.05, "max_holding_bars": 9}
    run = shorthand_definitions("sentiment_reaction", ["SYN01.SIM"], "1-MINUTE-LAST", params)
    (definition,) = run.definitions
    assert isinstance(definition.parameters, SentimentReactionParameters)
    assert definition.parameters.entry_threshold == 0.4
    assert definition.parameters.max_holding_bars == 9
    assert [t.value for t in definition.signal_subscriptions] == ["SENTIMENT"]


def test_signal_types_become_subscriptions() -> None:
    params = {"signal_types": ["REGIME_PREDICTION"]}
    run = shorthand_definitions("ema_cross", ["SYN01.SIM"], "1-MINUTE-LAST", params)
    assert [t.value for t in run.definitions[0].signal_subscriptions] == ["REGIME_PREDICTION"]


def test_a_bad_value_is_named_by_the_shorthands_parameter() -> None:
    with pytest.raises(InvalidDefinitionError) as caught:
        shorthand_definitions("sentiment_reaction", ["SYN01.SIM"], "1-MINUTE-LAST", {"x": 1})
    assert caught.value.problems[0].location == ("parameters", "x")
    with pytest.raises(InvalidDefinitionError) as too_big:
        shorthand_definitions("ema_cross", ["SYN01.SIM"], "1-MINUTE-LAST", {"slow": 2**70})
    assert too_big.value.problems[0].location == ("parameters", "slow")


def test_an_unknown_shorthand_lists_the_known_ones() -> None:
    with pytest.raises(InvalidInputError) as caught:
        shorthand_definitions("nope", ["SYN01.SIM"], "1-MINUTE-LAST", {})
    assert caught.value.hint is not None
    assert all(name in caught.value.hint for name in SHORTHANDS)
