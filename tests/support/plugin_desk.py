"""Desks that allow the tests' own strategy classes (``support.*``, ``qd_test_plugins``).

A backtest or a custom definition may name a class only from an allowed place (see
services/plugins.py); the tests' strategies live in ``tests/`` and ``tests/support/plugins``,
which these settings name as plug-in packages and search paths.
"""

import os
from pathlib import Path

import pytest

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
