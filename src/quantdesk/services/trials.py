"""The trial engine: one trial (a pinned backtest request) to its :class:`TrialOutcome`.

Every sweep, optimisation and validation step runs its backtests through here, never
through ``BacktestService.run``: a trial is not stored, indexed or reported (thousands of
them would flood the run store), and a trial that the desk refuses (an infeasible candidate,
a window without data) is an outcome with its error, so one bad candidate never stops a
study. The outcome keeps only what the statistics need, computed from the same artifacts a
stored run would hold, so a trial re-run with ``backtests.run`` has the same fingerprint and
fills.
"""

import hashlib
import time
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from quantdesk.domain.backtest import BacktestResult, FillRecord
from quantdesk.domain.errors import QuantdeskError
from quantdesk.domain.risk import RiskEventKind
from quantdesk.domain.trials import TrialOutcome, TrialSpec
from quantdesk.services.backtests import BacktestService
from quantdesk.services.performance import DAY_NS
from quantdesk.services.ports import RunArtifacts

ScratchServices = Callable[[str], BacktestService]
"""A backtest service on another catalog root (a stress scenario's scratch copy)."""


def fills_digest(fills: Sequence[FillRecord]) -> str:
    """sha256 of the ordered fills as ``side,quantity,price,ts`` lines (``repr`` floats, so
    two digests are equal only when every fill is bit-identical)."""
    text = "\n".join(f"{f.side},{f.quantity!r},{f.price!r},{f.ts_ns}" for f in fills)
    return hashlib.sha256(text.encode()).hexdigest()


def _daily_marks(ts_ns: np.ndarray, equity: np.ndarray) -> tuple[list[int], list[float]]:
    """The curve's last point of each UTC day (the grouping of ``performance.daily_returns``)."""
    if len(ts_ns) == 0:
        return [], []
    day = ts_ns // DAY_NS
    last = np.flatnonzero(np.concatenate((day[1:] != day[:-1], [True])))
    return [int(t) for t in ts_ns[last]], [float(e) for e in equity[last]]


def _positions_max(fills: Sequence[FillRecord]) -> dict[str, float]:
    """Per instrument the largest absolute net position the fills reached (all strategies
    together: the limit that matters is the account's)."""
    net: dict[str, float] = {}
    peak: dict[str, float] = {}
    for fill in fills:
        position = net.get(fill.instrument_id, 0.0) + fill.side * fill.quantity
        net[fill.instrument_id] = position
        peak[fill.instrument_id] = max(peak.get(fill.instrument_id, 0.0), abs(position))
    return dict(sorted(peak.items()))


def outcome_of(key: str, result: BacktestResult, artifacts: RunArtifacts) -> TrialOutcome:
    """A finished run's outcome (pure): daily marks, closed trades in closing order, the risk
    layer's counts, the fills' digest. ``wall_seconds`` is the engine's."""
    curve = artifacts.curve
    daily_ts, daily_equity = _daily_marks(curve.ts_ns, curve.equity)
    closed = sorted(artifacts.positions, key=lambda p: p.closed_ns)  # stable: ties keep order
    events = result.risk_events
    return TrialOutcome(
        key=key,
        fingerprint=result.fingerprint,
        metrics=result.metrics,
        daily_ts=daily_ts,
        daily_equity=daily_equity,
        trade_pnls=[float(p.realized_pnl) for p in closed],
        holding_ns=[int(p.closed_ns - p.opened_ns) for p in closed],
        positions_max=_positions_max(artifacts.fills),
        risk_counts=dict(sorted(Counter(e.rule for e in events).items())),
        orders=result.facts.orders,
        orders_denied=sum(1 for e in events if e.kind is RiskEventKind.DENY),
        halted=any(e.kind is RiskEventKind.HALT for e in events),
        fills_sha256=fills_digest(artifacts.fills),
        start_equity=float(result.metrics.start_equity),
        wall_seconds=result.facts.wall_seconds,
    )


class TrialEvaluator:
    """Runs one trial at a time on a backtest service (a worker process holds one, warm).

    ``scratch(root)`` builds the service of a scratch catalog; each root's service is built
    once and kept, so a stress scenario's many trials share its warm data."""

    def __init__(self, backtests: BacktestService, scratch: ScratchServices | None = None) -> None:
        self._backtests = backtests
        self._scratch = scratch
        self._scratches: dict[str, BacktestService] = {}

    def service(self, catalog: str | None) -> BacktestService:
        """The service a trial on ``catalog`` runs on (None: the desk's own catalog)."""
        if catalog is None:
            return self._backtests
        service = self._scratches.get(catalog)
        if service is None:
            if self._scratch is None:
                raise QuantdeskError(
                    "this trial engine has no scratch catalogs",
                    code="scratch_unavailable",
                    data={"catalog": catalog},
                )
            service = self._scratches[catalog] = self._scratch(catalog)
        return service

    def evaluate(self, spec: TrialSpec) -> TrialOutcome:
        """The spec's outcome; a ``QuantdeskError`` of the run (refused request, infeasible
        parameters, no data in the window) is an outcome with its message and code, anything
        else (a bug, the engine crashing) propagates."""
        started = time.perf_counter()
        try:
            service = self.service(spec.catalog)
            result, artifacts = service.evaluate(spec.request, spec.request.pinned)
        except QuantdeskError as error:
            return TrialOutcome(
                key=spec.key,
                error=error.message,
                code=error.code,
                wall_seconds=time.perf_counter() - started,
            )
        return outcome_of(spec.key, result, artifacts)


class InlineTrialPool:
    """A :class:`~quantdesk.services.ports.trials.TrialPool` of one worker: this process."""

    def __init__(self, evaluator: TrialEvaluator) -> None:
        self._evaluator = evaluator

    @property
    def workers(self) -> int:
        return 1

    def run(
        self,
        specs: Sequence[TrialSpec],
        on_outcome: Callable[[TrialOutcome], None] | None = None,
    ) -> list[TrialOutcome]:
        """Outcomes in the order of ``specs`` (run one after the other)."""
        outcomes: list[TrialOutcome] = []
        for spec in specs:
            outcome = self._evaluator.evaluate(spec)
            outcomes.append(outcome)
            if on_outcome is not None:
                on_outcome(outcome)
        return outcomes

    def close(self) -> None:
        """Nothing to stop."""
