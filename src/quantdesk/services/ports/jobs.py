"""What the job service needs: a store of job rows and a runner that runs them elsewhere.

The runner knows nothing of the store: it tells a ``JobSink`` (the job service) what its
workers did, from one thread of its own, and the sink is the one writer of job rows.
"""

import builtins
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import JsonValue

from quantdesk.domain.backtest import BacktestRequest
from quantdesk.domain.jobs import JobFilter, JobOutcome, JobProgress, JobRecord, JobStats
from quantdesk.domain.runs import RunRecord, RunState


class JobStore(Protocol):
    """Job rows in a database. ``owner`` names the service process that runs a job."""

    def add(self, job: JobRecord, *, owner: str) -> None: ...

    def get(self, job_id: str) -> JobRecord | None: ...

    def update(self, job: JobRecord, *, owner: str | None = None) -> None:
        """Replace the job's row (``owner`` None: keep the one it has)."""
        ...

    def list(
        self, filter: JobFilter, *, limit: int, offset: int
    ) -> tuple[builtins.list[JobRecord], int]:
        """Newest first; with the count of all that match."""
        ...

    def unfinished(self) -> builtins.list[tuple[JobRecord, str]]:
        """Pending and running jobs with their owners, oldest first."""
        ...

    def owner(self, job_id: str) -> str | None: ...

    def claim(self, job_id: str, expected: str | None, owner: str) -> bool:
        """Make ``owner`` the job's owner if it is still ``expected`` (False: someone else
        took it first): two processes recovering at once never both run a job."""
        ...

    def request_cancel(self, job_id: str, reason: str) -> None:
        """Ask the owner of a running job (another server process) to cancel it."""
        ...

    def cancel_requests(self, owner: str) -> builtins.list[tuple[str, str]]:
        """(job id, reason) of the unfinished jobs of ``owner`` someone asked to cancel."""
        ...

    def stats(self) -> JobStats: ...


class JobChannel(Protocol):
    """What a handler, in its worker, reports back to the service."""

    def progress(self, progress: JobProgress) -> None: ...

    def event(
        self, type: str, payload: Mapping[str, JsonValue], *, subject: str | None = None
    ) -> None: ...


JobHandler = Callable[[Any, Mapping[str, JsonValue], JobChannel], Mapping[str, JsonValue]]
"""``(platform, payload, channel) -> result``: a module-level function (it is pickled by name
into the worker). The platform is the worker's own ``Platform``."""


@dataclass(frozen=True)
class JobWork:
    """What a worker needs to run one job; picklable."""

    job_id: str
    kind: str
    payload: Mapping[str, JsonValue]
    correlation_id: str | None
    handler: JobHandler


JobEntry = Callable[[JobWork, JobChannel], Mapping[str, JsonValue]]
"""The worker's entry point: builds what the handler needs and calls it (picklable)."""


class JobSink(Protocol):
    """Told by a runner, from a single thread, what its workers did."""

    def job_started(self, job_id: str) -> None: ...

    def job_progress(self, job_id: str, progress: JobProgress) -> None: ...

    def job_event(
        self, job_id: str, type: str, payload: Mapping[str, JsonValue], subject: str | None
    ) -> None: ...

    def job_finished(self, job_id: str, outcome: JobOutcome) -> None: ...


class JobRunner(Protocol):
    """Runs jobs outside the caller's thread and process (or inline, in tests)."""

    def start(self, sink: JobSink) -> None: ...

    def stop(self) -> None:
        """Stop every worker (their jobs stay as stored: a restart recovers them)."""
        ...

    def submit(self, work: JobWork) -> None:
        """Queue a job; it starts when a worker is free."""
        ...

    def cancel(self, job_id: str, reason: str) -> bool:
        """Stop a queued or running job (it ends ``cancelled``); False: not one of ours."""
        ...

    def healthy(self) -> tuple[bool, str]: ...


class RunLifecycle(Protocol):
    """What a backtest job needs of ``BacktestService``: a run submitted before its job, and
    marked stopped when its job is killed, cancelled or past its time limit."""

    def submit(
        self, request: BacktestRequest, *, submitted_by: str, job_id: str | None = None
    ) -> RunRecord: ...

    def mark_stopped(
        self, run_id: str, state: RunState, reason: str, *, code: str | None = None
    ) -> RunRecord: ...
