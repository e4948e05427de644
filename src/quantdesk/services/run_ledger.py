"""The records of submitted runs through their states, on the ``RunIndex`` port.

pending -> running -> completed | failed | cancelled. Every change after submission is
compare-and-set on the state (a worker finishing and the job service stopping the same run may
race: whoever writes first wins, the other sees the run finished). Recording how a run ended
never hides why it ended: a failed write is logged and the run's own error is what raises.
"""

import logging
import time
from collections.abc import Callable
from typing import Any

from quantdesk.domain.backtest import BacktestRequest, BacktestResult
from quantdesk.domain.errors import (
    ConflictError,
    InvalidInputError,
    JobStateError,
    NotFoundError,
    QuantdeskError,
)
from quantdesk.domain.runs import (
    ERROR_CODE_MAX_LENGTH,
    STOPPED,
    RunFilter,
    RunRecord,
    RunState,
    RunSummary,
    clipped_error,
)
from quantdesk.domain.text import shown
from quantdesk.services.ports import RunIndex

log = logging.getLogger(__name__)

RECORDS_LIMIT_MAX = 1000
UNFINISHED = frozenset({RunState.PENDING, RunState.RUNNING})
ADOPTED_BY = "unknown (stored before runs had records)"


class RunLedger:
    """``index``: built on first use (the database is not opened until a run needs it)."""

    def __init__(self, index: Callable[[], RunIndex] | None) -> None:
        self._index = index
        self._adopted = False

    @property
    def index(self) -> RunIndex:
        if self._index is None:
            raise InvalidInputError("this desk keeps no index of runs", code="no_run_index")
        return self._index()

    def get(self, run_id: str) -> RunRecord:
        record = self.index.get(run_id)
        if record is None:
            raise NotFoundError(
                f"no run {shown(run_id)}", code="run_not_found", data={"run_id": run_id}
            )
        return record

    def runnable(self, run_id: str) -> tuple[RunRecord, BacktestRequest]:
        """A run that has not finished, and its request as submitted."""
        record = self.get(run_id)
        request = self.index.request(run_id)
        if record.state.finished or request is None:
            raise _finished(record)
        return record, request

    def page(self, filter: RunFilter, *, limit: int, offset: int) -> tuple[list[RunRecord], int]:
        if not 1 <= limit <= RECORDS_LIMIT_MAX or offset < 0:
            raise InvalidInputError(
                f"limit is 1..{RECORDS_LIMIT_MAX} and offset at least 0",
                data={"limit": limit, "offset": offset},
            )
        return self.index.query(filter, limit=limit, offset=offset)

    def start(self, record: RunRecord) -> RunRecord:
        running = record.model_copy(
            update={"state": RunState.RUNNING, "started_ns": time.time_ns()}
        )
        if not self.index.update(running, expect=UNFINISHED):
            raise _finished(self.get(record.run_id))
        return running

    def complete(self, running: RunRecord, result: BacktestResult) -> RunRecord:
        completed = running.model_copy(update=_outcome(result))
        self.index.update(completed, expect={RunState.RUNNING})
        return completed

    def adopt(self, results: Callable[[], list[BacktestResult]]) -> int:
        """Index the runs stored before runs had records (once, into an empty index): a desk's
        older runs list beside its new ones. Returns how many were indexed."""
        if self._adopted:
            return 0
        self._adopted = True
        if self.index.query(RunFilter(), limit=1, offset=0)[1]:
            return 0
        adopted = 0
        for result in results():
            try:
                record = RunRecord(
                    run_id=result.run_id,
                    label=result.request.label,
                    strategies=tuple(result.request.strategies),
                    submitted_by=ADOPTED_BY,
                    created_ns=result.started_at_ns,
                    started_ns=result.started_at_ns,
                    **_outcome(result),
                )
                self.index.add(record, result.request)
            except ConflictError:  # another process adopted it first
                continue
            except (ValueError, QuantdeskError) as error:  # a folder no record can name
                log.warning("stored run %s is not indexed: %s", result.run_id, error)
                continue
            adopted += 1
        return adopted

    def fail(self, record: RunRecord, error: BaseException) -> None:
        """Record why the run ended; ``error`` is the caller's to raise."""
        if isinstance(error, QuantdeskError):
            self._end(record, RunState.FAILED, str(error), error.code)
        elif isinstance(error, Exception):  # a bug: the record names it, the log has its trace
            log.error("run %s failed", record.run_id, exc_info=error)
            self._end(
                record, RunState.FAILED, f"internal error ({type(error).__name__})", "internal"
            )
        else:  # interrupted: Ctrl-C, or the worker told to stop
            self._end(record, RunState.CANCELLED, "interrupted", "run_interrupted")

    def stop(self, run_id: str, state: RunState, reason: str, code: str | None) -> RunRecord:
        """Stopped from outside; a run that already finished keeps how it finished."""
        if state not in STOPPED:
            raise InvalidInputError(
                f"a stopped run is failed or cancelled, not {state.value}",
                data={"state": state.value},
            )
        record = self.get(run_id)
        if record.state.finished:
            return record
        stopped = _ended(record, state, reason, code or f"run_{state.value}")
        if self.index.update(stopped, expect=UNFINISHED):
            return stopped
        return self.get(run_id)

    def _end(self, record: RunRecord, state: RunState, error: str, code: str) -> None:
        try:
            self.index.update(_ended(record, state, error, code), expect=UNFINISHED)
        except QuantdeskError as failure:
            log.warning("run %s: its %s state was not recorded: %s", record.run_id, state, failure)


def _outcome(result: BacktestResult) -> dict[str, Any]:
    metrics = result.metrics
    return {
        "state": RunState.COMPLETED,
        "finished_ns": result.finished_at_ns,
        "fingerprint": result.fingerprint,
        "summary": RunSummary(
            total_return=metrics.total_return,
            sharpe=metrics.sharpe,
            max_drawdown=metrics.max_drawdown,
            trade_count=metrics.trade_count,
        ),
    }


def _ended(record: RunRecord, state: RunState, error: str, code: str) -> RunRecord:
    return record.model_copy(
        update={
            "state": state,
            "finished_ns": time.time_ns(),
            "error": clipped_error(error),
            "error_code": code[:ERROR_CODE_MAX_LENGTH],
        }
    )


def _finished(record: RunRecord) -> JobStateError:
    return JobStateError(
        f"run {record.run_id} is {record.state.value}: it cannot run again",
        code="run_finished",
        data={"run_id": record.run_id, "state": record.state.value},
    )
