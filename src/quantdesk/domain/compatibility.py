"""The outcome of validating one registry version against this desk (issue 13, Property 14).

Every check runs and reports (a failed check never hides the next one's problems), so a
researcher fixes a definition in one pass. A check that cannot run because an earlier one
failed (a smoke backtest of a class that does not import) is *skipped*, with why; a skip is
not a problem of its own.
"""

from dataclasses import dataclass, field
from enum import StrEnum


class Check(StrEnum):
    """The checks, in the order they run."""

    TRANSLATION = "translation"  # definition -> engine spec -> decoded config, as a run would
    CLASS = "class"  # the strategy class imports, is a QuantdeskStrategy, trades through the gate
    DATA = "data"  # instruments and bar spec in the catalog, with bars
    SIGNALS = "signals"  # subscribed signal types in the buffer (only when replay is asked)
    RISK = "risk"  # the constraints leave the strategy able to trade
    SMOKE = "smoke"  # a short backtest runs without error within a time limit


@dataclass(frozen=True)
class CompatibilityProblem:
    check: Check
    reason: str

    def __str__(self) -> str:
        return f"{self.check.value}: {self.reason}"


@dataclass(frozen=True)
class CompatibilityReport:
    """One version's validation; ``ok`` iff no problem. ``skipped``: (check, why) not run."""

    strategy_id: str
    version: int
    content_hash: str
    problems: tuple[CompatibilityProblem, ...]
    checked_at_ns: int
    engine_version: str
    skipped: tuple[CompatibilityProblem, ...] = field(default=())
    smoke_seconds: float | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def ref(self) -> str:
        return f"{self.strategy_id}@{self.version}"

    def summary(self) -> str:
        """One line: ``validated ok`` or ``failed: reason; reason``."""
        if self.ok:
            return "validated ok"
        return "failed: " + "; ".join(str(p) for p in self.problems)
