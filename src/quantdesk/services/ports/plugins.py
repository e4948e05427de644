"""What the plug-in checks need from outside: somewhere other than this process to import them."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class PluginClass:
    """A strategy class and its config class by import path (``package.module:Class``)."""

    strategy_path: str
    config_path: str


@dataclass(frozen=True)
class PluginFinding:
    """What importing one plug-in showed; ``problem`` None: a Strategy with a StrategyConfig."""

    plugin: PluginClass
    problem: str | None


class PluginInspector(Protocol):
    """Imports plug-ins outside the calling process (which never imports them to check them)."""

    def inspect(self, plugins: Sequence[PluginClass]) -> list[PluginFinding]:
        """One finding per plug-in, in order. A failure of the check itself (it crashed, it
        timed out) is a finding with that problem for each plug-in, never an exception."""
        ...
