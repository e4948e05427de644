"""The engine a backtest runs on, and what it reports back."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from quantdesk.domain.backtest import (
    EngineRejection,
    FillRecord,
    PositionRecord,
    SignalDecision,
    SignalUse,
)
from quantdesk.domain.backtest_plan import RunPlan
from quantdesk.domain.risk import RiskEvent
from quantdesk.services.columns import BarColumns


@dataclass(frozen=True)
class EngineRun:
    """What the engine did, as recorded by quantdesk during the run."""

    fills: Sequence[FillRecord]  # a RecordLog from the engine: columns, not objects
    positions: Sequence[PositionRecord]
    events_processed: int
    orders: int
    wall_seconds: float
    balances: dict[str, float]
    risk_events: list[RiskEvent]
    signal_uses: list[SignalUse] = field(default_factory=list)
    signal_decisions: list[SignalDecision] = field(default_factory=list)
    engine_rejections: list[EngineRejection] = field(default_factory=list)
    orders_accepted: int | None = None  # by the venue; None: not counted
    built_bars: dict[str, BarColumns] = field(default_factory=dict)
    """The ``-INTERNAL`` bars the engine built from ticks, by bar type (runs on ticks)."""


class BacktestRunner(Protocol):
    """Runs a prepared backtest (a :class:`RunPlan`) on an engine over the catalog."""

    @property
    def engine_version(self) -> str: ...

    def check(self, plan: RunPlan) -> None:
        """Raise ``InvalidInputError`` naming the strategy and field of any bad config."""
        ...

    def run(self, plan: RunPlan, on_progress: Callable[[int], None] | None = None) -> EngineRun:
        """``on_progress`` receives the simulated time (ns) as the run advances."""
        ...
