"""A job's progress as one number: the ``ProgressReporter`` tasks of its use case, weighted,
turned into 0..100 percent with an estimate of the seconds left.

A backtest's time is almost all in its simulated-time task, whose units are bars replayed (so
percent follows simulated time); the checks before and the analysis after get a few percent
each. A task the plan does not name keeps the percent where it is and only shows as the
current step.
"""

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from quantdesk.domain.jobs import MESSAGE_MAX_LENGTH, JobProgress, clipped
from quantdesk.services.backtests import ANALYSE_TASK, CHECK_TASK, REPORT_TASK, SIMULATE_TASK
from quantdesk.services.migration_verify import CATALOG_TASK, SOURCE_TASK
from quantdesk.services.migrations import LATE_TASK, NEW_TASK
from quantdesk.services.ports import Advance
from quantdesk.services.ports.jobs import JobChannel

BACKTEST_TASKS: tuple[tuple[str, float], ...] = (
    (CHECK_TASK, 5.0),
    (SIMULATE_TASK, 80.0),
    (ANALYSE_TASK, 10.0),
    (REPORT_TASK, 5.0),
)
"""The tasks of ``BacktestService`` and the share of the whole each one gets (percent)."""

MIGRATION_TASKS: tuple[tuple[str, float], ...] = ((LATE_TASK, 5.0), (NEW_TASK, 95.0))
VERIFY_TASKS: tuple[tuple[str, float], ...] = ((SOURCE_TASK, 80.0), (CATALOG_TASK, 20.0))

SEND_EVERY_SECONDS = 0.1
_ETA_AFTER_SECONDS = 0.5
_ETA_AFTER_PERCENT = 1.0


class PercentProgress:
    """``ProgressReporter`` that reports percent done and ETA to a job's channel.

    Reports at most every ``SEND_EVERY_SECONDS`` within a task, and always when a task starts
    or ends: the bar moves smoothly without a message per bar.
    """

    def __init__(
        self,
        channel: JobChannel,
        plan: Sequence[tuple[str, float]] = (),
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        total = sum(weight for _, weight in plan)
        self._weights = {name: weight * 100.0 / total for name, weight in plan} if total else {}
        self._channel = channel
        self._clock = clock
        self._started = clock()
        self._done = 0.0  # percent of the tasks finished
        self._last_sent = float("-inf")
        self.percent = 0.0

    @contextmanager
    def task(self, description: str, total: int | None = None) -> Iterator[Advance]:
        weight = self._weights.get(description, 0.0)
        completed = [0]
        self._send(description, force=True)

        def advance(units: int) -> None:
            if total is None or total <= 0 or weight == 0.0:
                return
            completed[0] = min(total, completed[0] + max(units, 0))
            self.percent = min(100.0, self._done + weight * completed[0] / total)
            self._send(description)

        try:
            yield advance
        finally:
            self._done = min(100.0, self._done + weight)
            self.percent = max(self.percent, self._done)
            self._send(description, force=True)

    def _send(self, description: str, *, force: bool = False) -> None:
        now = self._clock()
        if not force and now - self._last_sent < SEND_EVERY_SECONDS:
            return
        self._last_sent = now
        self._channel.progress(
            JobProgress(
                percent=round(self.percent, 3),
                eta_seconds=self._eta(now),
                message=clipped(description, MESSAGE_MAX_LENGTH),
            )
        )

    def _eta(self, now: float) -> float | None:
        """Linear in wall time: what is left at the pace so far (None until there is one)."""
        elapsed = now - self._started
        if self.percent < _ETA_AFTER_PERCENT or elapsed < _ETA_AFTER_SECONDS:
            return None
        return round(elapsed * (100.0 - self.percent) / self.percent, 3)
