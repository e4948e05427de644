"""What compatibility validation needs from outside: where reports are kept, a child
process for smoke backtests, and a child process that audits a plug-in's code."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from quantdesk.domain.compatibility import CompatibilityReport
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.services.ports.plugins import PluginClass, PluginFinding


class ValidationStore(Protocol):
    """Reports per version; the newest per (strategy_id, version) is its outcome."""

    def save(self, report: CompatibilityReport) -> None: ...

    def latest(self, strategy_id: str, version: int) -> CompatibilityReport | None: ...

    def latest_of(self, strategy_id: str) -> dict[int, CompatibilityReport]:
        """Per version of the strategy, its newest report (versions never checked: absent)."""
        ...


@dataclass(frozen=True)
class SmokeWindow:
    """The short backtest: the strategy's warm-up plus the last ``bars`` bars of its data
    (the runner knows the warm-up: it builds the strategy), at most ``seconds`` of wall time."""

    bars: int
    seconds: float
    replay_signals: bool = False


@dataclass(frozen=True)
class SmokeOutcome:
    """``problem`` None: the run completed; ``seconds`` it took (wall time of the child)."""

    problem: str | None
    seconds: float
    fills: int = 0


class SmokeRunner(Protocol):
    """Runs one definition's backtest in another process, killed at the time limit."""

    def run(self, definition: StrategyDefinition, window: SmokeWindow) -> SmokeOutcome: ...


class PluginAuditor(Protocol):
    """Imports plug-ins outside this process and checks what the desk requires of them: a
    ``QuantdeskStrategy`` subclass whose code (and its bases' up to the quantdesk base)
    places no order past the risk gate. One finding per plug-in, in order."""

    def audit(self, plugins: Sequence[PluginClass]) -> list[PluginFinding]: ...
