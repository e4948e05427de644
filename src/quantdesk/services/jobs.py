"""Jobs: long work off the request path, in a runner's workers, with its state stored.

``JobService`` stores a job before a runner sees it, and is the runner's sink: the one writer
of a running job's row (from the runner's monitor thread), and the one publisher of its
events (``job_update`` on every state change, ``backtest_progress`` at most every
``EVENT_EVERY_SECONDS``).

Several server processes (``uvicorn --workers N``) may share one database: each job row
names its *owner* (host, process, service instance), each process runs and recovers only its
own jobs or a dead owner's, and a cancel that reaches another process than the owner is left
in the row for the owner to act on.
"""

import builtins
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Literal

from pydantic import JsonValue

from quantdesk.domain.backtest import BacktestRequest
from quantdesk.domain.correlation import correlated, current_correlation_id
from quantdesk.domain.errors import InvalidInputError, JobStateError, NotFoundError, QuantdeskError
from quantdesk.domain.events import EventType
from quantdesk.domain.jobs import (
    ERROR_MAX_LENGTH,
    MESSAGE_MAX_LENGTH,
    PAYLOAD_MAX_BYTES,
    RESULT_MAX_BYTES,
    JobFilter,
    JobKind,
    JobOutcome,
    JobProgress,
    JobRecord,
    JobState,
    JobStats,
    bounded_json,
    check_transition,
    clipped,
    is_job_id,
)
from quantdesk.domain.runs import RunState
from quantdesk.domain.text import validate_actor
from quantdesk.services.job_handlers import HANDLERS
from quantdesk.services.job_owners import owner_alive, this_owner
from quantdesk.services.ports.events import EventPublisher
from quantdesk.services.ports.jobs import JobHandler, JobRunner, JobStore, JobWork, RunLifecycle

log = logging.getLogger(__name__)

EVENT_EVERY_SECONDS = 0.2  # backtest_progress: at most ~5 per second per job
STORE_EVERY_SECONDS = 0.5  # a running job's progress written at most this often
LIST_LIMIT_MAX = 1000
INTERRUPTED = "interrupted by a service restart"
REQUEUED = "queued again after a service restart"


class JobService:
    def __init__(
        self,
        store: JobStore,
        runner: JobRunner,
        events: EventPublisher | None = None,
        *,
        backtests: RunLifecycle | None = None,
        handlers: Mapping[JobKind, JobHandler] = HANDLERS,
        on_restart: Literal["fail", "requeue"] = "fail",
        owner: str | None = None,
        clock: Callable[[], int] = time.time_ns,
        monotonic: Callable[[], float] = time.monotonic,
        cancel_wait_seconds: float = 3.0,
        poll_seconds: float = 0.5,
    ) -> None:
        self._store = store
        self._runner = runner
        self._events = events
        self._backtests = backtests
        self._handlers = dict(handlers)
        self._on_restart = on_restart
        self._owner = owner or this_owner()
        self._clock = clock
        self._monotonic = monotonic  # the throttles' clock
        self._cancel_wait = cancel_wait_seconds
        self._poll_seconds = poll_seconds
        self._lock = threading.Lock()
        self._finished = threading.Condition(self._lock)
        self._live: dict[str, JobRecord] = {}  # running here: the newest record
        self._written: dict[str, tuple[float, float]] = {}  # job: (last store write, event)
        self._stopping = threading.Event()
        self._poller: threading.Thread | None = None

    @property
    def owner(self) -> str:
        return self._owner

    # --- use cases -----------------------------------------------------------------------------

    def submit(
        self,
        kind: JobKind,
        payload: Mapping[str, JsonValue],
        *,
        submitted_by: str,
        subject: str | None = None,
    ) -> JobRecord:
        """Store a pending job (correlation id from the context) and queue it."""
        return self._submit(kind, payload, submitted_by, subject, uuid.uuid4().hex)

    def submit_backtest(self, request: BacktestRequest, *, submitted_by: str) -> JobRecord:
        """A run submitted (references pinned, nothing run) and a job that executes it."""
        if self._backtests is None:
            raise InvalidInputError(
                "this service runs no backtests", code="job_kind", data={"kind": "backtest"}
            )
        validate_actor(submitted_by)
        job_id = uuid.uuid4().hex
        run = self._backtests.submit(request, submitted_by=submitted_by, job_id=job_id)
        return self._submit(
            JobKind.BACKTEST, {"run_id": run.run_id}, submitted_by, run.run_id, job_id
        )

    def get(self, job_id: str) -> JobRecord:
        job = self._store.get(job_id) if is_job_id(job_id) else None
        if job is None:
            raise NotFoundError(
                f"no job {job_id[:64]!r}", code="job_not_found", data={"job_id": job_id[:64]}
            )
        return job

    def list(
        self, filter: JobFilter, *, limit: int, offset: int
    ) -> tuple[builtins.list[JobRecord], int]:
        if not 1 <= limit <= LIST_LIMIT_MAX or not 0 <= offset <= 10**9:
            raise InvalidInputError(
                f"a job list takes 1..{LIST_LIMIT_MAX} jobs from an offset of 0..10^9",
                data={"limit": limit, "offset": offset},
            )
        return self._store.list(filter, limit=limit, offset=offset)

    def cancel(self, job_id: str, *, actor: str) -> JobRecord:
        """Stop a pending or running job; its record once it has ended (or still ending when
        another server process runs it and has not acted yet)."""
        job = self.get(job_id)
        if job.finished:
            raise JobStateError(
                f"job {job_id} is {job.state.value}: there is nothing to cancel",
                data={"job_id": job_id, "state": job.state.value},
            )
        reason = clipped(f"cancelled by {validate_actor(actor)}", ERROR_MAX_LENGTH) or ""
        if not self._runner.cancel(job_id, reason):
            owner = self._store.owner(job_id)
            if owner is not None and owner != self._owner and owner_alive(owner, self._owner):
                self._store.request_cancel(job_id, reason)
            elif self._store.claim(job_id, owner, self._owner):  # orphaned: nobody runs it
                self._end(
                    job, JobOutcome(JobState.CANCELLED, error=reason, error_code="job_cancelled")
                )
        return self._await_end(job_id)

    def start(self) -> None:
        """Recover what a stopped service left unfinished, then start the workers."""
        self._stopping.clear()
        self._recover()
        self._runner.start(self)
        self._poller = threading.Thread(
            target=self._poll_cancels, name="quantdesk-job-cancels", daemon=True
        )
        self._poller.start()

    def stop(self) -> None:
        self._stopping.set()
        self._runner.stop()
        if self._poller is not None:
            self._poller.join(timeout=5)
            self._poller = None

    def healthy(self) -> tuple[bool, str]:
        return self._runner.healthy()

    def stats(self) -> JobStats:
        return self._store.stats()

    # --- the runner's sink (its monitor thread) ---------------------------------------------

    def job_started(self, job_id: str) -> None:
        job = self._store.get(job_id)
        if job is None or job.state is not JobState.PENDING:
            return
        check_transition(job_id, job.state, JobState.RUNNING)
        running = job.model_copy(
            update={"state": JobState.RUNNING, "started_ns": self._clock(), "message": "started"}
        )
        self._store.update(running)
        with self._lock:
            self._live[job_id] = running
            self._written[job_id] = (self._monotonic(), float("-inf"))
        self._publish_update(running)

    def job_progress(self, job_id: str, progress: JobProgress) -> None:
        with self._lock:
            job = self._live.get(job_id)
            if job is None:
                return
            percent, eta = progress.percent, progress.eta_seconds
            job = job.model_copy(
                update={  # a worker's numbers are bounded here: the row and events hold them
                    "progress": min(100.0, max(job.progress, percent))
                    if math.isfinite(percent)
                    else job.progress,
                    "eta_seconds": max(eta, 0.0)
                    if eta is not None and math.isfinite(eta)
                    else None,
                    "message": clipped(progress.message, MESSAGE_MAX_LENGTH),
                }
            )
            self._live[job_id] = job
            wrote, sent = self._written[job_id]
            now = self._monotonic()
            write = now - wrote >= STORE_EVERY_SECONDS
            send = job.kind is JobKind.BACKTEST and now - sent >= EVENT_EVERY_SECONDS
            self._written[job_id] = (now if write else wrote, now if send else sent)
        if write:
            self._store.update(job)
        if send:
            self._publish(
                job,
                EventType.backtest_progress,
                {
                    "job_id": job.job_id,
                    "run_id": job.subject,
                    "progress": job.progress,
                    "eta_seconds": job.eta_seconds,
                    "message": job.message,
                },
                job.subject,
            )

    def job_event(
        self, job_id: str, type: str, payload: Mapping[str, JsonValue], subject: str | None
    ) -> None:
        with self._lock:
            job = self._live.get(job_id)
        if job is None or type not in EventType.__members__.values():
            log.warning("job %s sent an event of unknown type %r: dropped", job_id, type[:40])
            return
        with correlated(job.correlation_id):
            if self._events is not None:
                self._events.publish(EventType(type), payload, subject=subject)

    def job_finished(self, job_id: str, outcome: JobOutcome) -> None:
        job = self._store.get(job_id)
        if job is None or job.finished:
            return
        self._end(job, outcome)

    # --- internals ---------------------------------------------------------------------------

    def _submit(
        self,
        kind: JobKind,
        payload: Mapping[str, JsonValue],
        submitted_by: str,
        subject: str | None,
        job_id: str,
    ) -> JobRecord:
        handler = self._handlers.get(kind)
        if handler is None:
            raise InvalidInputError(
                f"this service runs no {kind.value} jobs", code="job_kind", data={"kind": kind}
            )
        job = JobRecord(
            job_id=job_id,
            kind=kind,
            state=JobState.PENDING,
            payload=bounded_json(payload, PAYLOAD_MAX_BYTES, "payload"),
            subject=subject,
            submitted_by=validate_actor(submitted_by),
            correlation_id=current_correlation_id(),
            created_ns=self._clock(),
        )
        self._store.add(job, owner=self._owner)
        self._publish_update(job)
        self._runner.submit(self._work(job, handler))
        return job

    def _work(self, job: JobRecord, handler: JobHandler) -> JobWork:
        return JobWork(job.job_id, job.kind.value, job.payload, job.correlation_id, handler)

    def _end(self, job: JobRecord, outcome: JobOutcome) -> None:
        if job.state is JobState.PENDING and outcome.state is JobState.COMPLETED:
            # its start was not stored (the database failed then): it ran all the same
            job = job.model_copy(update={"state": JobState.RUNNING, "started_ns": self._clock()})
        check_transition(job.job_id, job.state, outcome.state)
        with self._lock:
            live = self._live.pop(job.job_id, job)
            self._written.pop(job.job_id, None)
        result, error, code = None, outcome.error, outcome.error_code
        if outcome.state is JobState.COMPLETED:
            try:
                result = bounded_json(outcome.result or {}, RESULT_MAX_BYTES, "result")
            except InvalidInputError as refused:
                outcome = JobOutcome(JobState.FAILED)
                error, code = refused.message, refused.code
        ended = live.model_copy(
            update={
                "state": outcome.state,
                "finished_ns": self._clock(),
                "progress": 100.0 if outcome.state is JobState.COMPLETED else live.progress,
                "eta_seconds": None,
                "message": outcome.state.value,
                "result": result,
                "error": clipped(error, ERROR_MAX_LENGTH),
                "error_code": code,
            }
        )
        self._store.update(ended)
        if ended.kind is JobKind.BACKTEST and ended.state is not JobState.COMPLETED:
            self._stop_run(ended)
        self._publish_update(ended)
        with self._finished:
            self._finished.notify_all()

    def _stop_run(self, job: JobRecord) -> None:
        """The run of a backtest job that did not complete is marked as it ended."""
        if self._backtests is None or job.subject is None:
            return
        state = RunState.CANCELLED if job.state is JobState.CANCELLED else RunState.FAILED
        try:
            self._backtests.mark_stopped(
                job.subject, state, job.error or job.state.value, code=job.error_code
            )
        except QuantdeskError as error:
            log.warning("run %s of job %s not marked stopped: %s", job.subject, job.job_id, error)

    def _await_end(self, job_id: str) -> JobRecord:
        deadline = time.monotonic() + self._cancel_wait
        while True:
            job = self.get(job_id)
            left = deadline - time.monotonic()
            if job.finished or left <= 0:
                return job
            with self._finished:
                self._finished.wait(timeout=min(left, 0.1))

    def _recover(self) -> None:
        for job, owner in self._store.unfinished():
            if owner != self._owner and owner_alive(owner, self._owner):
                continue  # another server process runs it
            if not self._store.claim(job.job_id, owner, self._owner):
                continue  # another process starting at the same time took it
            handler = self._handlers.get(job.kind)
            if self._on_restart == "requeue" and handler is not None:
                queued = job.model_copy(
                    update={
                        "state": JobState.PENDING,
                        "started_ns": None,
                        "progress": 0.0,
                        "eta_seconds": None,
                        "message": REQUEUED,
                    }
                )
                self._store.update(queued)
                self._publish_update(queued)
                self._runner.submit(self._work(queued, handler))
            else:
                self._end(
                    job,
                    JobOutcome(JobState.FAILED, error=INTERRUPTED, error_code="job_interrupted"),
                )

    def _poll_cancels(self) -> None:
        """Cancels asked of this process's jobs by another server process."""
        while not self._stopping.wait(self._poll_seconds):
            try:
                for job_id, reason in self._store.cancel_requests(self._owner):
                    self._runner.cancel(job_id, reason)
            except Exception:  # a database hiccup must not end the poller
                log.exception("reading the cancel requests failed")

    def _publish_update(self, job: JobRecord) -> None:
        payload = job.model_dump(mode="json", exclude={"payload"})
        self._publish(job, EventType.job_update, payload, job.job_id)

    def _publish(
        self,
        job: JobRecord,
        type: EventType,
        payload: Mapping[str, JsonValue],
        subject: str | None,
    ) -> None:
        if self._events is None:
            return
        with correlated(job.correlation_id):
            try:
                self._events.publish(type, payload, subject=subject)
            except Exception:  # an event channel down must not fail the job
                log.exception("publishing %s of job %s failed", type.value, job.job_id)
