"""What code export needs from outside: something that writes a family's logic as a module."""

from dataclasses import dataclass
from typing import Any, Protocol

from quantdesk.domain.backtest import StrategySpec
from quantdesk.domain.strategies.definition import StrategyDefinition


@dataclass(frozen=True)
class ExportRequest:
    """One registered family definition to write out as a standalone module.

    ``spec`` is its translation (the family classes and the config values to fix as
    defaults); ``counterpart`` the ``custom`` definition (as a file would hold it) that
    registers the written module back, with ``module`` standing for its import name.
    """

    definition: StrategyDefinition
    spec: StrategySpec
    module: str
    counterpart: dict[str, Any]


@dataclass(frozen=True)
class ExportedModule:
    """The module's text and the import paths of its classes (``{module}:{Class}``)."""

    source: str
    strategy_path: str
    config_path: str


class StrategyExporter(Protocol):
    def export(self, request: ExportRequest) -> ExportedModule:
        """The module for ``request``; a family whose module cannot be carried standalone is
        an ``InvalidInputError`` saying what stands in the way."""
        ...
