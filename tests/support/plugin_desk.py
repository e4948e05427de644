"""Desks that allow the tests' own strategy classes (``support.*``, ``qd_test_plugins``).

A backtest or a custom definition may name a class only from an allowed place (see
services/plugins.py); the tests' strategies live in ``tests/`` and ``tests/support/plugins``,
which these settings name as plug-in packages and search paths.
"""

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from quantdesk.adapters.nautilus.plugin_inspector import SubprocessPluginInspector
from quantdesk.services.ports.plugins import PluginClass, PluginFinding
from quantdesk.settings import QuantdeskSettings

TESTS = Path(__file__).resolve().parents[1]
TEST_PLUGINS = TESTS / "support" / "plugins"
PACKAGES = ("support", "qd_test_plugins")


def plugin_settings(home: Path) -> QuantdeskSettings:
    """For ``bootstrap(plugin_settings(home))``."""
    return QuantdeskSettings(
        home=home, plugin_packages=PACKAGES, plugin_paths=(TESTS, TEST_PLUGINS)
    )


def allow_test_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same through the environment, for desks built by ``bootstrap(home=...)``."""
    monkeypatch.setenv("QUANTDESK_PLUGIN_PACKAGES", ",".join(PACKAGES))
    monkeypatch.setenv("QUANTDESK_PLUGIN_PATHS", os.pathsep.join(map(str, (TESTS, TEST_PLUGINS))))


Check = Callable[[SubprocessPluginInspector, Sequence[PluginClass]], list[PluginFinding]]


def check_each_plugin_set_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The plug-in inspection and audit (a child process each, ~1.3 s) run for real once per
    plug-in set for the test, then answer from that: the same classes get the same findings,
    and what the test is about is what happens after the check, not the check again."""
    for name in ("inspect", "audit"):
        monkeypatch.setattr(
            SubprocessPluginInspector, name, _once(getattr(SubprocessPluginInspector, name))
        )


def _once(real: Check) -> Check:
    found: dict[tuple[PluginClass, ...], list[PluginFinding]] = {}

    def check(
        self: SubprocessPluginInspector, plugins: Sequence[PluginClass]
    ) -> list[PluginFinding]:
        key = tuple(plugins)
        if key not in found:
            found[key] = real(self, plugins)
        return found[key]

    return check
