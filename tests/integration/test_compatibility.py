"""Compatibility validation (issue 13 item 4 and the custom family of item 6).

Property 13: every registration is re-translated and re-validated through the registry's
listener. Property 14: invalid definitions are rejected before anything runs, with every
reason. Broken and gate-bypassing plug-ins are refused with the reason (file:line).
"""

from pathlib import Path
from typing import Any

import pytest

from quantdesk.bootstrap import bootstrap
from quantdesk.domain.compatibility import Check, CompatibilityReport
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.domain.strategies.problems import InvalidDefinitionError, parse_definition
from quantdesk.domain.strategies.versions import StrategyVersion
from quantdesk.services.platform import Platform
from quantdesk.services.plugins import PluginRefusedError
from quantdesk.services.synthetic import SyntheticMarketConfig
from quantdesk.services.translation import to_spec
from support.plugin_desk import TEST_PLUGINS, plugin_settings

BYPASS = TEST_PLUGINS / "qd_test_plugins" / "bypass.py"


def make_desk(home: Path, **settings: Any) -> Platform:
    desk = bootstrap(plugin_settings(home).model_copy(update=settings))
    desk.synthetic.synthesize(SyntheticMarketConfig(instruments=2, days=3, seed=4))
    return desk


@pytest.fixture
def desk(tmp_path: Path) -> Platform:
    """Registrations validated without the smoke run (the tests that want it ask for it)."""
    return make_desk(tmp_path / "home", validation_smoke=False)


def trend(strategy_id: str = "trend-a", **fields: Any) -> StrategyDefinition:
    document: dict[str, Any] = {
        "strategy_id": strategy_id,
        "family": "trend_following",
        "name": "trend",
        "instruments": ["SYN01.SIM"],
        "parameters": {"fast_period": 10, "slow_period": 50, "trade_size": "1"},
    }
    return parse_definition({**document, **fields})


def custom(module: str, name: str, config: dict[str, Any] | None = None, **fields: Any) -> Any:
    instrument = "SYN01.SIM"
    values = {"instrument_id": instrument, "bar_type": f"{instrument}-1-MINUTE-LAST-EXTERNAL"}
    document: dict[str, Any] = {
        "strategy_id": f"custom-{name.lower()}",
        "family": "custom",
        "name": name,
        "instruments": [instrument],
        "parameters": {
            "strategy_path": f"qd_test_plugins.{module}:{name}",
            "config_path": f"qd_test_plugins.{module}:{fields.pop('config_name', 'BypassConfig')}",
            "config": values if config is None else config,
            **fields,
        },
    }
    return parse_definition(document)


def unstored(definition: StrategyDefinition) -> StrategyVersion:
    """A version as the registry would store it (for classes the registry itself refuses)."""
    pinned = definition.model_copy(update={"version": 1})
    return StrategyVersion(definition=pinned, content_hash=pinned.content_hash)


def reasons(report: CompatibilityReport, check: Check) -> list[str]:
    return [p.reason for p in report.problems if p.check is check]


def test_updates_yield_new_validated_translations(tmp_path: Path) -> None:
    """Property 13: each registration (add, then update) is translated and validated on its
    own, with the smoke backtest; the report and the translated config carry its hash."""
    desk = make_desk(tmp_path / "home", validation_smoke=True)
    first = desk.registry.register(trend(), "tester").stored
    second = desk.registry.register(
        trend(parameters={"fast_period": 12, "slow_period": 50, "trade_size": "1"}), "tester"
    ).stored
    assert second.version == 2 and second.content_hash != first.content_hash
    for stored in (first, second):
        report = desk.compatibility.latest(stored)
        assert report is not None and report.ok, report
        assert report.content_hash == stored.content_hash
        assert report.smoke_seconds is not None  # the smoke backtest ran
        config = to_spec(stored.definition).config
        assert config["order_id_tag"] == stored.content_hash[:8]
        assert config["strategy_id"] == stored.ref
    assert desk.compatibility.outcomes("trend-a").keys() == {1, 2}


def test_invalid_definitions_are_rejected_with_every_reason(desk: Platform) -> None:
    """Property 14: nothing runs, and every problem is named (not the first only)."""
    stored = desk.registry.register(
        trend(
            "bad-a",
            instruments=["SYN01.SIM", "NOPE.SIM"],
            bar_spec="5-MINUTE-LAST",
            signal_subscriptions=["SENTIMENT"],
            risk={"max_position": "0.5", "allow_reduce": False},
        ),
        "tester",
    ).stored
    report = desk.compatibility.check(stored, replay_signals=True)
    assert not report.ok
    assert reasons(report, Check.DATA) == [
        "no 5-MINUTE-LAST bars of SYN01.SIM (SYN01.SIM-5-MINUTE-LAST-EXTERNAL)",
        "instrument NOPE.SIM is not in the catalog",
    ]
    assert reasons(report, Check.SIGNALS) == ["no SENTIMENT signals in the buffer to replay"]
    assert len(reasons(report, Check.RISK)) == 1
    assert "max_position 0.5 is below the trade size 1" in reasons(report, Check.RISK)[0]
    assert [s.check for s in report.skipped] == [Check.SMOKE]  # nothing ran
    assert report.smoke_seconds is None
    assert desk.compatibility.latest(stored) == report  # the newest outcome is stored


def test_signals_are_checked_only_when_replay_is_asked(desk: Platform) -> None:
    stored = desk.registry.register(trend(signal_subscriptions=["SENTIMENT"]), "t").stored
    assert desk.compatibility.check(stored, smoke=False).ok
    assert not desk.compatibility.check(stored, smoke=False, replay_signals=True).ok


def test_a_gate_bypass_is_named_by_file_and_line(desk: Platform) -> None:
    line = next(
        n
        for n, text in enumerate(BYPASS.read_text().splitlines(), 1)
        if "self.submit_order(" in text
    )
    stored = desk.registry.register(custom("bypass", "Direct"), "tester").stored
    report = desk.compatibility.latest(stored)
    assert report is not None and not report.ok
    (reason,) = reasons(report, Check.CLASS)
    assert f"bypass.py:{line}: Direct calls submit_order" in reason
    assert "self.submit" in reason
    assert [s.check for s in report.skipped] == [Check.SMOKE]


def test_a_bypass_inherited_from_a_base_of_its_own_is_found(desk: Platform) -> None:
    report = desk.compatibility.check(unstored(custom("bypass", "Flattener")), smoke=False)
    (reason,) = reasons(report, Check.CLASS)
    assert "_Closer calls close_all_positions" in reason


def test_a_strategy_that_is_no_quantdesk_strategy_is_refused(desk: Platform) -> None:
    report = desk.compatibility.check(unstored(custom("bypass", "Plain")), smoke=False)
    (reason,) = reasons(report, Check.CLASS)
    assert "is not a subclass of quantdesk.strategies.base.QuantdeskStrategy" in reason


@pytest.mark.parametrize(
    ("module", "name", "config_name", "expected"),
    [
        ("broken", "Broken", "BrokenConfig", "cannot import qd_test_plugins.broken"),
        ("not_a_strategy", "Plain", "PlainConfig", "is not a subclass of nautilus_trader"),
    ],
)
def test_broken_plugins_are_refused_by_registration_and_validation(
    desk: Platform, module: str, name: str, config_name: str, expected: str
) -> None:
    definition = custom(module, name, {}, config_name=config_name)
    with pytest.raises(PluginRefusedError, match=expected):
        desk.registry.register(definition, "tester")
    report = desk.compatibility.check(unstored(definition), smoke=False)
    (reason,) = reasons(report, Check.CLASS)
    assert expected in reason


def test_a_config_against_its_schema_is_refused_with_the_field(desk: Platform) -> None:
    schema = {
        "type": "object",
        "properties": {"quantity": {"type": "integer", "minimum": 1}},
        "required": ["quantity"],
    }
    definition = custom(
        "buyer", "Buyer", {"quantity": 0}, config_name="BuyerConfig", config_schema=schema
    )
    with pytest.raises(InvalidDefinitionError, match="quantity"):
        desk.registry.register(definition, "tester")
    report = desk.compatibility.check(unstored(definition), smoke=False)
    assert any("quantity" in reason for reason in reasons(report, Check.CLASS))


def test_a_runaway_plugin_is_killed_at_the_smoke_limit(tmp_path: Path) -> None:
    desk = make_desk(tmp_path / "home", validation_smoke=True, validation_smoke_seconds=20.0)
    bar_type = "SYN01.SIM-1-MINUTE-LAST-EXTERNAL"
    definition = custom("runaway", "Runaway", {"bar_type": bar_type}, config_name="RunawayConfig")
    report = desk.compatibility.latest(desk.registry.register(definition, "tester").stored)
    assert report is not None
    assert reasons(report, Check.SMOKE) == [
        "the smoke backtest did not finish within 20 s (killed)"
    ]


def test_a_good_plugin_passes_with_its_smoke_run(tmp_path: Path) -> None:
    desk = make_desk(tmp_path / "home", validation_smoke=True)
    bar_type = "SYN01.SIM-1-MINUTE-LAST-EXTERNAL"
    config = {"instrument_id": "SYN01.SIM", "bar_type": bar_type, "quantity": 10}
    stored = desk.registry.register(
        custom("buyer", "Buyer", config, config_name="BuyerConfig"), "tester"
    ).stored
    report = desk.compatibility.latest(stored)
    assert report is not None and report.ok, report
    assert report.smoke_seconds is not None
