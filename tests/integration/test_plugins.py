"""Plug-ins for real: settings, entry points of an installed distribution, the child process
that imports them (never this one), the registry and a backtest that runs one.

The test plug-ins live in tests/support/plugins/qd_test_plugins, outside the tests' import
path: only a desk whose settings name that directory can reach them.
"""

import os
import sys
from pathlib import Path
from typing import Any

import pytest

from quantdesk.adapters.nautilus.plugin_inspector import SubprocessPluginInspector
from quantdesk.adapters.schemas.json_schema import JsonSchemaChecker
from quantdesk.adapters.storage.audit_log import SqlAuditLog
from quantdesk.adapters.storage.database import Database, sqlite_url
from quantdesk.adapters.storage.strategy_store import SqlStrategyStore
from quantdesk.bootstrap import bootstrap
from quantdesk.domain.backtest import BacktestRequest, StrategySpec
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.domain.strategies.problems import parse_definition
from quantdesk.services.plugins import PluginGate, PluginPolicy, PluginRefusedError
from quantdesk.services.ports.plugins import PluginClass
from quantdesk.services.registry import StrategyRegistry
from quantdesk.services.synthetic import DEFAULT_START_NS, SyntheticMarketConfig
from quantdesk.settings import QuantdeskSettings
from support.strategy_runs import raw_plan

PLUGINS = Path(__file__).resolve().parents[1] / "support" / "plugins"
PACKAGE = "qd_test_plugins"
MINUTE = 60_000_000_000


def custom(
    strategy_path: str,
    config_path: str,
    strategy_id: str = "mine",
    config: dict[str, Any] | None = None,
) -> StrategyDefinition:
    return parse_definition(
        {
            "strategy_id": strategy_id,
            "family": "custom",
            "name": "my own",
            "instruments": ["SYN01.SIM"],
            "parameters": {
                "strategy_path": strategy_path,
                "config_path": config_path,
                "config": config or {},
            },
        }
    )


def registry(folder: Path, gate: PluginGate | None = None) -> StrategyRegistry:
    database = Database(sqlite_url(folder / "quantdesk.db"))
    return StrategyRegistry(
        SqlStrategyStore(database), SqlAuditLog(database), JsonSchemaChecker(), plugins=gate
    )


def allowing_test_plugins(timeout_seconds: float = 60.0) -> PluginGate:
    return PluginGate(
        PluginPolicy(packages=(PACKAGE,)),
        SubprocessPluginInspector([PLUGINS], timeout_seconds=timeout_seconds),
    )


def problem(strategy_path: str, config_path: str, timeout_seconds: float = 60.0) -> str | None:
    inspector = SubprocessPluginInspector([PLUGINS], timeout_seconds=timeout_seconds)
    (finding,) = inspector.inspect([PluginClass(strategy_path, config_path)])
    return finding.problem


# --- the repros -------------------------------------------------------------------------------


def test_a_custom_definition_naming_os_system_is_refused(tmp_path: Path) -> None:
    desk_registry = registry(tmp_path)
    with pytest.raises(PluginRefusedError) as caught:
        desk_registry.register(custom("os:system", "os:system"), "ann")
    assert caught.value.message.startswith(
        "parameters.strategy_path 'os:system' is not allowed: module os is not a quantdesk built-in"
    )
    assert desk_registry.list() == []


def test_a_backtest_naming_an_unallowed_module_imports_nothing(tmp_path: Path) -> None:
    desk = bootstrap(home=tmp_path / "home")
    desk.synthetic.synthesize(SyntheticMarketConfig(instruments=1, days=1, seed=3))
    request = raw_plan(
        [StrategySpec(strategy_path="this:s", config_path="this:s", config={})],
        instruments=["SYN01.SIM"],
    )
    already = "this" in sys.modules
    with pytest.raises(PluginRefusedError, match=r"strategy 1: strategy_path 'this:s' is not"):
        desk.backtests.run_plan(request)
    assert already or "this" not in sys.modules


# --- the child process ------------------------------------------------------------------------


def test_a_plugin_is_imported_only_in_the_child(tmp_path: Path, monkeypatch: Any) -> None:
    sentinel = tmp_path / "imported-by"
    monkeypatch.setenv("QD_TEST_PLUGIN_SENTINEL", str(sentinel))
    monkeypatch.setenv("QUANTDESK_AUDIT_KEY", "a secret the plug-in must not see")
    stored = registry(tmp_path, allowing_test_plugins()).register(
        custom(f"{PACKAGE}.side_effect:Quiet", f"{PACKAGE}.side_effect:QuietConfig"), "ann"
    )
    assert stored.created
    assert f"{PACKAGE}.side_effect" not in sys.modules
    (line,) = sentinel.read_text().splitlines()
    pid, *seen = line.split()
    assert int(pid) != os.getpid()
    assert seen == []  # no QUANTDESK_ variable reaches the child


@pytest.mark.parametrize(
    ("strategy", "config", "expected"),
    [
        (
            "not_a_strategy:Plain",
            "not_a_strategy:PlainConfig",
            f"{PACKAGE}.not_a_strategy:Plain is not a subclass of "
            "nautilus_trader.trading.strategy.Strategy",
        ),
        (
            "buyer:Buyer",
            "not_a_strategy:NotAConfig",
            f"{PACKAGE}.not_a_strategy:NotAConfig is not a subclass of "
            "nautilus_trader.config.StrategyConfig",
        ),
        (
            "buyer:Absent",
            "buyer:BuyerConfig",
            f"module {PACKAGE}.buyer has no attribute Absent",
        ),
        (
            "broken:Broken",
            "broken:BrokenConfig",
            f"cannot import {PACKAGE}.broken: ModuleNotFoundError: No module named "
            "'qd_test_plugins_missing_dependency'",
        ),
        (
            "absent:Absent",
            "absent:AbsentConfig",
            f"cannot import {PACKAGE}.absent: ModuleNotFoundError: No module named "
            f"'{PACKAGE}.absent'",
        ),
        ("exits:Gone", "exits:GoneConfig", "the check process ended with exit code 3"),
    ],
)
def test_what_is_not_a_plugin_strategy_is_refused_with_the_reason(
    tmp_path: Path, strategy: str, config: str, expected: str
) -> None:
    desk_registry = registry(tmp_path, allowing_test_plugins())
    with pytest.raises(PluginRefusedError) as caught:
        desk_registry.register(custom(f"{PACKAGE}.{strategy}", f"{PACKAGE}.{config}"), "ann")
    assert caught.value.reason == "plugin_check_failed"
    assert caught.value.message == (
        f"parameters.strategy_path '{PACKAGE}.{strategy}' cannot be used: {expected}"
    )
    assert desk_registry.list() == []


def test_a_check_that_never_ends_is_killed_and_refused() -> None:
    assert problem(f"{PACKAGE}.slow:S", f"{PACKAGE}.slow:C", timeout_seconds=3) == (
        "the check did not finish within 3 s (killed)"
    )


def test_the_child_does_not_see_the_working_directory_or_pythonpath(
    tmp_path: Path, monkeypatch: Any
) -> None:
    (tmp_path / "qd_cwd_plugin.py").write_text("raise SystemExit('imported from the cwd')\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    inspector = SubprocessPluginInspector()
    (finding,) = inspector.inspect([PluginClass("qd_cwd_plugin:S", "qd_cwd_plugin:C")])
    assert finding.problem == (
        "cannot import qd_cwd_plugin: ModuleNotFoundError: No module named 'qd_cwd_plugin'"
    )


# --- allowed plug-ins at work -----------------------------------------------------------------


def test_an_allowed_plugin_registers_and_runs_in_a_backtest(tmp_path: Path) -> None:
    settings = QuantdeskSettings(
        home=tmp_path / "home", plugin_packages=(PACKAGE,), plugin_paths=(PLUGINS,)
    )
    desk = bootstrap(settings)
    stored = desk.registry.register(
        custom(f"{PACKAGE}.buyer:Buyer", f"{PACKAGE}.buyer:BuyerConfig"), "ann"
    )
    assert stored.created and stored.stored.ref == "mine@1"
    desk.synthetic.synthesize(SyntheticMarketConfig(instruments=1, days=1, seed=3))
    config = {"instrument_id": "SYN01.SIM", "bar_type": "SYN01.SIM-1-MINUTE-LAST-EXTERNAL"}
    buyer = custom(f"{PACKAGE}.buyer:Buyer", f"{PACKAGE}.buyer:BuyerConfig", "my-buyer", config)
    assert desk.registry.register(buyer, "ann").stored.ref == "my-buyer@1"
    result = desk.backtests.run(  # by reference: the custom family runs like any other
        BacktestRequest(
            strategies=["my-buyer"],
            end_ns=DEFAULT_START_NS + 60 * MINUTE,
            engine={"log_level": "OFF"},
        )
    )
    assert result.facts.fills >= 1
    assert {f.side for f in desk.backtests.artifacts(result.run_id).fills} == {1}
    assert [s.ref for s in result.strategies] == ["my-buyer@1"]

    spec = StrategySpec(
        strategy_path=f"{PACKAGE}.buyer:Buyer",
        config_path=f"{PACKAGE}.buyer:BuyerConfig",
        config={**config, "order_id_tag": "B"},
    )
    plain = StrategySpec(
        strategy_path=f"{PACKAGE}.not_a_strategy:Plain",
        config_path=f"{PACKAGE}.not_a_strategy:PlainConfig",
        config={},
    )
    refused = raw_plan([spec, plain], instruments=["SYN01.SIM"])  # below the registry
    with pytest.raises(PluginRefusedError) as caught:
        desk.backtests.run_plan(refused)
    assert caught.value.message == (
        f"strategy 2: strategy_path '{PACKAGE}.not_a_strategy:Plain' cannot be used: "
        f"{PACKAGE}.not_a_strategy:Plain is not a subclass of "
        "nautilus_trader.trading.strategy.Strategy"
    )
    assert f"{PACKAGE}.not_a_strategy" not in sys.modules  # the runner never saw it
    assert len(desk.backtests.results()) == 1


def _distribution(root: Path) -> Path:
    """An installed distribution as importlib.metadata reads it: dist-info beside its module."""
    info = root / "qd_ep_plugin-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: qd-ep-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[quantdesk.strategies]\n"
        "ep = qd_ep_strategy:EpStrategy\n"
        "odd = qd_ep_strategy:EpStrategy.inner\n"
        "[console_scripts]\n"
        "other = qd_ep_strategy:main\n"
    )
    (root / "qd_ep_strategy.py").write_text(
        "from nautilus_trader.config import StrategyConfig\n"
        "from nautilus_trader.trading.strategy import Strategy\n\n\n"
        "class EpConfig(StrategyConfig, frozen=True):\n    pass\n\n\n"
        "class EpStrategy(Strategy):\n    pass\n\n\n"
        "class Other(Strategy):\n    pass\n"
    )
    return root


def test_an_entry_point_plugin_is_allowed(tmp_path: Path) -> None:
    site = _distribution(tmp_path / "site")
    settings = QuantdeskSettings(home=tmp_path / "home", plugin_paths=(site,))
    assert settings.strategy_entry_points() == ("qd_ep_strategy:EpStrategy",)
    desk = bootstrap(settings)
    stored = desk.registry.register(
        custom("qd_ep_strategy:EpStrategy", "qd_ep_strategy:EpConfig"), "ann"
    )
    assert stored.created
    assert "qd_ep_strategy" not in sys.modules
    with pytest.raises(PluginRefusedError, match="'qd_ep_strategy:Other' is not allowed"):
        desk.registry.register(custom("qd_ep_strategy:Other", "qd_ep_strategy:EpConfig"), "ann")


# --- settings ---------------------------------------------------------------------------------


def test_plugin_settings_from_the_environment(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("QUANTDESK_PLUGIN_PACKAGES", " acme, desk.strategies,,acme ")
    monkeypatch.setenv("QUANTDESK_PLUGIN_PATHS", f"{PLUGINS}{os.pathsep}{tmp_path}")
    settings = QuantdeskSettings()
    assert settings.plugin_packages == ("acme", "desk.strategies")
    assert settings.plugin_paths == (PLUGINS, tmp_path.resolve())
    monkeypatch.delenv("QUANTDESK_PLUGIN_PACKAGES")
    monkeypatch.delenv("QUANTDESK_PLUGIN_PATHS")
    assert QuantdeskSettings().plugin_packages == ()
    assert QuantdeskSettings().plugin_paths == ()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("acme-x", "'acme-x' is not a package name"),
        ("acme,../evil", "'../evil' is not a package name"),
        ("acme.", "'acme.' is not a package name"),
        ("os", "'os' is not a plug-in package (the standard library)"),
        ("importlib.metadata", "(the standard library)"),
        ("quantdesk", "(quantdesk itself)"),
    ],
)
def test_plugin_packages_are_validated(monkeypatch: Any, value: str, message: str) -> None:
    monkeypatch.setenv("QUANTDESK_PLUGIN_PACKAGES", value)
    with pytest.raises(InvalidInputError) as caught:
        QuantdeskSettings()
    assert caught.value.message.startswith("QUANTDESK_PLUGIN_PACKAGES: ")
    assert message in caught.value.message


def test_plugin_paths_must_be_directories(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("QUANTDESK_PLUGIN_PATHS", str(tmp_path / "absent"))
    with pytest.raises(InvalidInputError, match=r"QUANTDESK_PLUGIN_PATHS: .*absent' is not a dir"):
        QuantdeskSettings()


@pytest.mark.parametrize("value", ["abc", "0", "-1", "601", "nan", "inf", ""])
def test_the_check_time_is_validated(monkeypatch: Any, value: str) -> None:
    monkeypatch.setenv("QUANTDESK_PLUGIN_CHECK_SECONDS", value)
    with pytest.raises(
        InvalidInputError, match=r"QUANTDESK_PLUGIN_CHECK_SECONDS: .* in \(0, 600\]"
    ):
        QuantdeskSettings()
    monkeypatch.setenv("QUANTDESK_PLUGIN_CHECK_SECONDS", "2.5")
    assert QuantdeskSettings().plugin_check_seconds == 2.5
