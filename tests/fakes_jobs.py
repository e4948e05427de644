"""In-memory fakes of the job ports: ``InMemoryJobStore`` (the store contract's third backend)
and ``InlineJobRunner`` (runs each job in the caller's thread, for API tests that need no
worker process). To be folded into tests/fakes.py once it exists."""

import builtins
from collections.abc import Mapping
from threading import Lock

from pydantic import JsonValue

from quantdesk.domain.errors import QuantdeskError
from quantdesk.domain.jobs import (
    FINISHED,
    UNFINISHED,
    JobFilter,
    JobKind,
    JobOutcome,
    JobProgress,
    JobRecord,
    JobState,
    JobStats,
)
from quantdesk.services.ports.jobs import JobSink, JobWork


class InMemoryJobStore:
    def __init__(self) -> None:
        self._rows: dict[str, tuple[JobRecord, str | None, str | None]] = {}
        self._lock = Lock()

    def add(self, job: JobRecord, *, owner: str) -> None:
        with self._lock:
            if job.job_id in self._rows:
                raise QuantdeskError(f"job {job.job_id} exists")
            self._rows[job.job_id] = (job, owner, None)

    def get(self, job_id: str) -> JobRecord | None:
        row = self._rows.get(job_id)
        return None if row is None else row[0]

    def update(self, job: JobRecord, *, owner: str | None = None) -> None:
        with self._lock:
            _, held, cancel = self._rows[job.job_id]
            self._rows[job.job_id] = (
                job,
                held if owner is None else owner,
                None if job.finished else cancel,
            )

    def list(
        self, filter: JobFilter, *, limit: int, offset: int
    ) -> tuple[builtins.list[JobRecord], int]:
        jobs = sorted(
            (job for job, _, _ in self._rows.values() if filter.matches(job)),
            key=lambda job: (job.created_ns, job.job_id),
            reverse=True,
        )
        return jobs[offset : offset + limit], len(jobs)

    def unfinished(self) -> builtins.list[tuple[JobRecord, str]]:
        rows = [
            (job, owner or "") for job, owner, _ in self._rows.values() if job.state in UNFINISHED
        ]
        return sorted(rows, key=lambda row: (row[0].created_ns, row[0].job_id))

    def owner(self, job_id: str) -> str | None:
        row = self._rows.get(job_id)
        return None if row is None else row[1]

    def claim(self, job_id: str, expected: str | None, owner: str) -> bool:
        with self._lock:
            job, held, cancel = self._rows[job_id]
            if (held or "") != (expected or ""):
                return False
            self._rows[job_id] = (job, owner, cancel)
            return True

    def request_cancel(self, job_id: str, reason: str) -> None:
        with self._lock:
            job, owner, _ = self._rows[job_id]
            if job.state in UNFINISHED:
                self._rows[job_id] = (job, owner, reason)

    def cancel_requests(self, owner: str) -> builtins.list[tuple[str, str]]:
        return [
            (job.job_id, cancel)
            for job, held, cancel in self._rows.values()
            if held == owner and cancel is not None and job.state in UNFINISHED
        ]

    def stats(self) -> JobStats:
        counts: dict[tuple[JobKind, JobState], int] = {}
        finished: dict[JobKind, int] = {}
        seconds: dict[JobKind, float] = {}
        for job, _, _ in self._rows.values():
            counts[(job.kind, job.state)] = counts.get((job.kind, job.state), 0) + 1
            if job.state in FINISHED and job.seconds is not None:
                finished[job.kind] = finished.get(job.kind, 0) + 1
                seconds[job.kind] = seconds.get(job.kind, 0.0) + job.seconds
        return JobStats(counts=counts, finished=finished, finished_seconds=seconds)


class _SinkChannel:
    def __init__(self, sink: JobSink, job_id: str) -> None:
        self._sink, self._job_id = sink, job_id

    def progress(self, progress: JobProgress) -> None:
        self._sink.job_progress(self._job_id, progress)

    def event(
        self, type: str, payload: Mapping[str, JsonValue], *, subject: str | None = None
    ) -> None:
        self._sink.job_event(self._job_id, type, payload, subject)


class InlineJobRunner:
    """Runs a job when it is submitted, in the submitting thread, with ``platform`` (what the
    worker entry would bootstrap). Submitted before ``start``: run at ``start``."""

    def __init__(self, platform: object) -> None:
        self._platform = platform
        self._sink: JobSink | None = None
        self._waiting: builtins.list[JobWork] = []

    def start(self, sink: JobSink) -> None:
        self._sink = sink
        waiting, self._waiting = self._waiting, []
        for work in waiting:
            self._run(work)

    def stop(self) -> None:
        self._sink = None

    def submit(self, work: JobWork) -> None:
        if self._sink is None:
            self._waiting.append(work)
        else:
            self._run(work)

    def cancel(self, job_id: str, reason: str) -> bool:
        return False  # nothing is ever in flight here

    def healthy(self) -> tuple[bool, str]:
        return (self._sink is not None), "inline runner"

    def _run(self, work: JobWork) -> None:
        sink = self._sink
        assert sink is not None
        sink.job_started(work.job_id)
        outcome: JobOutcome
        try:
            result = work.handler(self._platform, work.payload, _SinkChannel(sink, work.job_id))
            outcome = JobOutcome(JobState.COMPLETED, result=dict(result))
        except QuantdeskError as error:
            outcome = JobOutcome(JobState.FAILED, error=str(error), error_code=error.code)
        sink.job_finished(work.job_id, outcome)
