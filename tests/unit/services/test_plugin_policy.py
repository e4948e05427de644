"""The plug-in policy (pure: nothing is imported) and the gate that puts it before the inspector."""

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.domain.errors import InvalidInputError
from quantdesk.services.plugins import (
    BUILTIN_PACKAGE,
    Origin,
    PluginGate,
    PluginPolicy,
    PluginRefusedError,
    PluginUse,
)
from quantdesk.services.ports.plugins import PluginClass, PluginFinding

EMA = PluginClass(
    "quantdesk.strategies.ema_cross:EmaCross", "quantdesk.strategies.ema_cross:EmaCrossConfig"
)


def use(strategy_path: str, config_path: str | None = None, where: str = "") -> PluginUse:
    return PluginUse(where, PluginClass(strategy_path, config_path or strategy_path + "Config"))


def refusal(policy: PluginPolicy, strategy_path: str, config_path: str | None = None) -> str:
    with pytest.raises(PluginRefusedError) as caught:
        policy.origin(use(strategy_path, config_path))
    return caught.value.reason


class FakeInspector:
    """Records what it was asked; answers a problem for the classes named in ``bad``."""

    def __init__(self, bad: dict[str, str] | None = None) -> None:
        self.calls: list[list[PluginClass]] = []
        self._bad = bad or {}

    def inspect(self, plugins: Sequence[PluginClass]) -> list[PluginFinding]:
        self.calls.append(list(plugins))
        return [PluginFinding(p, self._bad.get(p.strategy_path)) for p in plugins]


# --- the policy -------------------------------------------------------------------------------


def test_builtins_are_allowed_without_inspection() -> None:
    policy = PluginPolicy()
    assert policy.origin(PluginUse("", EMA)) == (Origin.BUILTIN, Origin.BUILTIN)
    assert not policy.needs_inspection(PluginUse("", EMA))
    assert policy.origin(use("quantdesk.strategies:X")) == (Origin.BUILTIN, Origin.BUILTIN)


def test_the_repro_paths_are_refused_naming_the_path_and_what_is_allowed() -> None:
    policy = PluginPolicy(packages=("acme",))
    with pytest.raises(PluginRefusedError) as caught:
        policy.origin(use("this:s", "this:s", where="strategy 1: "))
    error = caught.value
    assert error.reason == "not_allowed" and error.path == "this:s"
    assert error.message.startswith("strategy 1: strategy_path 'this:s' is not allowed")
    assert error.hint is not None
    assert "quantdesk.strategies" in error.hint and "acme" in error.hint
    assert "QUANTDESK_PLUGIN_PACKAGES" in error.hint and "--" not in error.hint
    assert refusal(policy, "os:system") == "not_allowed"
    assert refusal(PluginPolicy(), "quantdesk.bootstrap:main") == "not_allowed"


def test_the_hint_lists_a_bounded_number_of_entry_points() -> None:
    many = PluginPolicy(entry_points=tuple(f"vendor{n:02}:S" for n in range(25)))
    hint = many.allowed()
    assert "vendor09:S and 15 more" in hint and "vendor10:S" not in hint
    assert "plug-in packages (none;" in hint


@pytest.mark.parametrize(
    ("package", "module", "allowed"),
    [
        ("acme", "acme", True),
        ("acme", "acme.trend", True),
        ("acme", "acme.trend.fast", True),
        ("acme", "acmex", False),
        ("acme", "acmex.trend", False),
        ("acme", "acm", False),
        ("acme", "x.acme", False),
        ("acme.strategies", "acme.strategies.trend", True),
        ("acme.strategies", "acme.strategies", True),
        ("acme.strategies", "acme", False),
        ("acme.strategies", "acme.other", False),
        ("acme.strategies", "acme.strategiesx", False),
    ],
)
def test_packages_allow_whole_dotted_segments(package: str, module: str, allowed: bool) -> None:
    policy = PluginPolicy(packages=(package,))
    if allowed:
        assert policy.origin(use(f"{module}:S", f"{module}:C")) == (
            Origin.PACKAGE,
            Origin.PACKAGE,
        )
    else:
        assert refusal(policy, f"{module}:S", f"{package}:C") == "not_allowed"
    assert refusal(PluginPolicy(), "quantdesk.strategiesx:S") == "not_allowed"


def test_the_config_class_must_be_allowed_too() -> None:
    policy = PluginPolicy(packages=("acme",))
    with pytest.raises(PluginRefusedError) as caught:
        policy.origin(use("acme.trend:S", "os:system", where="parameters."))
    assert caught.value.message.startswith("parameters.config_path 'os:system' is not allowed")
    assert policy.origin(use("acme:S", "quantdesk.strategies.base:QuantdeskStrategyConfig")) == (
        Origin.PACKAGE,
        Origin.BUILTIN,
    )
    assert policy.needs_inspection(use("quantdesk.strategies.ema_cross:EmaCross", "acme:C"))


def test_entry_points_allow_exactly_their_value_with_a_config_beside_it() -> None:
    policy = PluginPolicy(entry_points=("vendor.strategies.trend:Trend",))
    assert policy.origin(use("vendor.strategies.trend:Trend", "vendor.strategies.trend:Cfg")) == (
        Origin.ENTRY_POINT,
        Origin.ENTRY_POINT,
    )
    assert policy.origin(use("vendor.strategies.trend:Trend", "vendor.strategies.cfg:C"))[1] is (
        Origin.ENTRY_POINT
    )
    assert policy.origin(use("vendor.strategies.trend:Trend", f"{BUILTIN_PACKAGE}.base:C"))[1] is (
        Origin.BUILTIN
    )
    # another class of the same module is not an entry point
    assert refusal(policy, "vendor.strategies.trend:Other") == "not_allowed"
    assert refusal(policy, "vendor.strategies.trend:Tren") == "not_allowed"
    assert refusal(policy, "vendor.strategies.trend:Trend", "vendor.other:C") == (
        "config_outside_plugin"
    )
    assert refusal(policy, "vendor.strategies.trend:Trend", "os:system") == "config_outside_plugin"
    top = PluginPolicy(entry_points=("vendor:Trend",))
    assert top.origin(use("vendor:Trend", "vendor.config:C"))[1] is Origin.ENTRY_POINT
    assert refusal(top, "vendor:Trend", "vendorx:C") == "config_outside_plugin"


@pytest.mark.parametrize(
    "path",
    [
        *("a..b:C", ".a:C", "a.:C", "1a:C", "a:b.C", "a:C:D", "a", ":C", "a:", "a b:C", ""),
        "\uff41cme:C",  # a fullwidth letter: identifiers are ASCII
    ],
)
def test_malformed_paths_are_refused_before_any_rule(path: str) -> None:
    policy = PluginPolicy(packages=("a", "acme"))
    assert refusal(policy, path, "a:C") == "not_an_import_path"


@pytest.mark.parametrize("package", ["acme-x", "acme..x", "", ".acme", "acme.", "1acme"])
def test_a_policy_refuses_a_package_that_is_no_dotted_name(package: str) -> None:
    with pytest.raises(InvalidInputError, match="not a dotted package name"):
        PluginPolicy(packages=(package,))
    with pytest.raises(InvalidInputError, match="not of the form module:Class"):
        PluginPolicy(entry_points=("acme.x",))


# Segments from a tiny alphabet so that generated modules often share prefixes with the
# allowed packages (acme vs acmex vs acm), which is where a prefix test would go wrong.
_segment = st.sampled_from(["a", "ab", "abc", "b", "quantdesk", "strategies", "x", "_a"])
_module = st.lists(_segment, min_size=1, max_size=4).map(".".join)
_path = st.tuples(_module, st.sampled_from(["S", "T", "C"])).map(":".join)


def _under(module: str, package: str) -> bool:
    parts, prefix = module.split("."), package.split(".")
    return parts[: len(prefix)] == prefix


# Property: a pair is allowed exactly when each class lies (by whole segments) under the
# built-in package or an allowed package, or the strategy is exactly an entry point and its
# config under the entry point's own package; nothing outside that set is ever allowed.
@settings(max_examples=500, deadline=None)
@given(
    packages=st.lists(_module, max_size=3),
    entry_points=st.lists(_path, max_size=2),
    strategy=_path,
    config=_path,
)
def test_nothing_outside_the_allowed_set_is_allowed(
    packages: list[str], entry_points: list[str], strategy: str, config: str
) -> None:
    policy = PluginPolicy(tuple(packages), tuple(entry_points))
    places = [BUILTIN_PACKAGE, *packages]
    strategy_module, config_module = strategy.split(":")[0], config.split(":")[0]
    in_places = any(_under(strategy_module, p) for p in places)
    as_entry_point = not in_places and strategy in entry_points
    home = strategy_module.rsplit(".", 1)[0]
    config_ok = any(_under(config_module, p) for p in places) or (
        as_entry_point and _under(config_module, home)
    )
    expected = (in_places or as_entry_point) and config_ok
    try:
        policy.origin(use(strategy, config))
    except PluginRefusedError:
        allowed = False
    else:
        allowed = True
    assert allowed == expected


# --- the gate ---------------------------------------------------------------------------------


def test_the_gate_checks_the_policy_before_it_inspects_anything() -> None:
    inspector = FakeInspector()
    gate = PluginGate(PluginPolicy(packages=("acme",)), inspector)
    with pytest.raises(PluginRefusedError):
        gate.vet([use("acme:S", "acme:C"), use("this:s", "this:s", where="strategy 2: ")])
    assert inspector.calls == []


def test_the_gate_inspects_each_plugin_once_and_never_builtins() -> None:
    inspector = FakeInspector()
    gate = PluginGate(PluginPolicy(packages=("acme",)), inspector)
    gate.vet([PluginUse("", EMA)])
    assert inspector.calls == []
    gate.vet([use("acme:S", "acme:C"), PluginUse("", EMA), use("acme:S", "acme:C", "second")])
    assert inspector.calls == [[PluginClass("acme:S", "acme:C")]]


def test_an_inspection_problem_is_a_clear_refusal() -> None:
    bad = {"acme.x:S": "acme.x:S is not a subclass of nautilus_trader.trading.strategy.Strategy"}
    gate = PluginGate(PluginPolicy(packages=("acme",)), FakeInspector(bad))
    with pytest.raises(PluginRefusedError) as caught:
        gate.vet([use("acme:S", "acme:C"), use("acme.x:S", "acme:C", where="strategy 2: ")])
    assert caught.value.reason == "plugin_check_failed"
    assert caught.value.message == (
        "strategy 2: strategy_path 'acme.x:S' cannot be used: acme.x:S is not a subclass of "
        "nautilus_trader.trading.strategy.Strategy"
    )


def test_without_an_inspector_only_builtins_pass() -> None:
    gate = PluginGate(PluginPolicy(packages=("acme",)))
    gate.vet([PluginUse("", EMA)])
    with pytest.raises(PluginRefusedError) as caught:
        gate.vet([use("acme:S", "acme:C")])
    assert caught.value.reason == "no_inspector"
    with pytest.raises(PluginRefusedError) as refused:
        PluginGate().vet([use("acme:S", "acme:C")])
    assert refused.value.reason == "not_allowed"


def test_a_lazy_policy_is_read_once_on_first_use() -> None:
    reads: list[int] = []

    def policy() -> PluginPolicy:
        reads.append(1)
        return PluginPolicy(packages=("acme",))

    gate = PluginGate(policy, FakeInspector())
    assert reads == []
    gate.vet([use("acme:S", "acme:C")])
    gate.vet([use("acme:S", "acme:C")])
    assert reads == [1]
