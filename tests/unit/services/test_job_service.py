"""JobService on the in-memory store and the inline runner: states, refusals, events, the
throttle, restart recovery, cancels across server processes and the run of a backtest job."""

import os
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import JsonValue

from fakes import InlineJobRunner, InMemoryJobStore
from quantdesk.domain.correlation import correlated, current_correlation_id
from quantdesk.domain.errors import InvalidInputError, JobStateError, NotFoundError
from quantdesk.domain.events import EventType
from quantdesk.domain.jobs import (
    JobFilter,
    JobKind,
    JobOutcome,
    JobProgress,
    JobRecord,
    JobState,
)
from quantdesk.services.job_owners import owner_alive
from quantdesk.services.jobs import INTERRUPTED, JobService
from quantdesk.services.ports.jobs import JobSink, JobWork
from support import job_kinds

OTHER_HOST = "elsewhere.example:1234:abc"


class Events:
    def __init__(self) -> None:
        self.seen: list[tuple[EventType, dict[str, JsonValue], str | None, str | None]] = []

    def publish(
        self, type: EventType, payload: Mapping[str, JsonValue], *, subject: str | None = None
    ) -> None:
        self.seen.append((type, dict(payload), subject, current_correlation_id()))

    def of(self, type: EventType) -> list[dict[str, JsonValue]]:
        return [payload for t, payload, _, _ in self.seen if t is type]


class HeldRunner:
    """Keeps what it is given (a worker that has not started it yet); records cancels."""

    def __init__(self) -> None:
        self.works: list[JobWork] = []
        self.cancels: list[tuple[str, str]] = []
        self.sink: JobSink | None = None

    def start(self, sink: JobSink) -> None:
        self.sink = sink

    def stop(self) -> None:
        self.sink = None

    def submit(self, work: JobWork) -> None:
        self.works.append(work)

    def cancel(self, job_id: str, reason: str) -> bool:
        self.cancels.append((job_id, reason))
        known = any(w.job_id == job_id for w in self.works)
        if known and self.sink is not None:
            self.sink.job_finished(
                job_id, JobOutcome(JobState.CANCELLED, error=reason, error_code="job_cancelled")
            )
        return known

    def healthy(self) -> tuple[bool, str]:
        return True, "held"


@dataclass
class Run:
    run_id: str


@dataclass
class Backtests:
    submitted: list[dict[str, Any]] = field(default_factory=list)
    stopped: list[tuple[str, Any, str]] = field(default_factory=list)

    def submit(self, request: Any, *, submitted_by: str, job_id: str | None = None) -> Run:
        self.submitted.append({"by": submitted_by, "job_id": job_id})
        return Run("20261202T000000Z-abcdef12-0001")

    def mark_stopped(self, run_id: str, state: Any, reason: str, **_: Any) -> None:
        self.stopped.append((run_id, state, reason))


def service(
    runner: Any = None, store: InMemoryJobStore | None = None, **options: Any
) -> tuple[JobService, InMemoryJobStore, Events]:
    store = store or InMemoryJobStore()
    events = Events()
    handlers = options.pop("handlers", {JobKind.VALIDATION: job_kinds.echo})
    jobs = JobService(store, runner or InlineJobRunner(None), events, handlers=handlers, **options)
    return jobs, store, events


def test_a_job_is_stored_pending_with_its_caller_then_runs_to_completion() -> None:
    jobs, _, events = service()
    jobs.start()
    with correlated("req-1"):
        job = jobs.submit(JobKind.VALIDATION, {"ref": "a@1"}, submitted_by="alice")
    assert job.state is JobState.PENDING and job.correlation_id == "req-1"
    done = jobs.get(job.job_id)
    assert done.state is JobState.COMPLETED and done.progress == 100.0
    assert done.result is not None and done.result["echo"] == {"ref": "a@1"}
    updates = events.of(EventType.job_update)
    assert [u["state"] for u in updates] == ["pending", "running", "completed"]
    assert all("payload" not in u for u in updates)  # a payload may name files: not published
    assert {cid for _, _, _, cid in events.seen} == {"req-1"}  # the monitor thread's events too
    assert jobs.list(JobFilter(state=JobState.COMPLETED), limit=10, offset=0)[1] == 1


def test_refusals_store_nothing() -> None:
    jobs, store, _ = service()
    with pytest.raises(InvalidInputError) as refused:
        jobs.submit(JobKind.BACKTEST, {}, submitted_by="alice")  # no handler for the kind
    assert refused.value.code == "job_kind"
    with pytest.raises(InvalidInputError) as large:
        jobs.submit(JobKind.VALIDATION, {"x": "y" * 70_000}, submitted_by="alice")
    assert large.value.code == "job_too_large"
    with pytest.raises(InvalidInputError):
        jobs.submit(JobKind.VALIDATION, {"x": float("nan")}, submitted_by="alice")
    with pytest.raises(InvalidInputError):
        jobs.submit(JobKind.VALIDATION, {}, submitted_by="a" * 201)
    with pytest.raises(InvalidInputError):
        jobs.list(JobFilter(), limit=0, offset=0)
    assert store.list(JobFilter(), limit=10, offset=0) == ([], 0)


@pytest.mark.parametrize("job_id", ["0" * 32, "nonsense", "x" * 10_000])
def test_an_unknown_job_is_not_found(job_id: str) -> None:
    jobs, _, _ = service()
    with pytest.raises(NotFoundError) as missing:
        jobs.get(job_id)
    assert missing.value.code == "job_not_found"
    assert len(str(missing.value)) < 200  # a hostile id is not echoed whole


def test_a_finished_job_cannot_be_cancelled() -> None:
    jobs, _, _ = service()
    jobs.start()
    job = jobs.submit(JobKind.VALIDATION, {}, submitted_by="alice")
    with pytest.raises(JobStateError) as refused:
        jobs.cancel(job.job_id, actor="bob")
    assert refused.value.code == "job_state" and refused.value.data["state"] == "completed"


def test_a_failed_handler_fails_the_job_with_its_code() -> None:
    jobs, _, _ = service(handlers={JobKind.VALIDATION: job_kinds.refuse})
    jobs.start()
    job = jobs.get(jobs.submit(JobKind.VALIDATION, {}, submitted_by="a").job_id)
    assert job.state is JobState.FAILED and job.error_code == "test_refused"


def test_progress_events_and_writes_are_throttled() -> None:
    now = [0.0]
    runner = HeldRunner()
    jobs, _, events = service(
        runner, handlers={JobKind.BACKTEST: job_kinds.echo}, monotonic=lambda: now[0]
    )
    jobs.start()
    job = jobs.submit(JobKind.BACKTEST, {"run_id": "r"}, submitted_by="a", subject="r")
    jobs.job_started(job.job_id)
    for step in range(100):  # 100 reports within 0.099 s: one event, no write yet
        now[0] = step / 1000
        jobs.job_progress(job.job_id, JobProgress(percent=step / 2, message="simulating"))
    assert len(events.of(EventType.backtest_progress)) == 1
    assert jobs.get(job.job_id).progress == 0.0
    now[0] = 0.6
    jobs.job_progress(job.job_id, JobProgress(percent=60.0, eta_seconds=1.5, message="m"))
    progress = events.of(EventType.backtest_progress)
    assert len(progress) == 2
    assert progress[-1] == {
        "job_id": job.job_id,
        "run_id": "r",
        "progress": 60.0,
        "eta_seconds": 1.5,
        "message": "m",
    }
    assert jobs.get(job.job_id).progress == 60.0
    jobs.job_progress(job.job_id, JobProgress(percent=10.0))  # never goes back
    now[0] = 1.2  # a write is due: what it writes is bounded
    jobs.job_progress(
        job.job_id, JobProgress(percent=float("nan"), eta_seconds=float("inf"), message="m" * 999)
    )
    written = jobs.get(job.job_id)
    assert written.progress == 60.0 and written.eta_seconds is None
    assert written.message is not None and len(written.message) == 500
    jobs.job_finished(job.job_id, JobOutcome(JobState.COMPLETED, result={"ok": True}))
    assert jobs.get(job.job_id).progress == 100.0


def test_a_result_too_large_fails_the_job() -> None:
    runner = HeldRunner()
    jobs, _, _ = service(runner)
    jobs.start()
    job = jobs.submit(JobKind.VALIDATION, {}, submitted_by="a")
    jobs.job_started(job.job_id)
    jobs.job_finished(job.job_id, JobOutcome(JobState.COMPLETED, result={"x": "y" * 300_000}))
    ended = jobs.get(job.job_id)
    assert ended.state is JobState.FAILED and ended.error_code == "job_too_large"
    assert ended.result is None


def test_a_backtest_job_runs_a_submitted_run_and_a_stopped_one_marks_its_run() -> None:
    backtests = Backtests()
    runner = HeldRunner()
    jobs, _, _ = service(runner, backtests=backtests, handlers={JobKind.BACKTEST: job_kinds.echo})
    jobs.start()
    job = jobs.submit_backtest(object(), submitted_by="alice")  # type: ignore[arg-type]
    assert backtests.submitted == [{"by": "alice", "job_id": job.job_id}]
    assert job.subject == "20261202T000000Z-abcdef12-0001"
    assert job.payload == {"run_id": job.subject}
    jobs.job_started(job.job_id)
    cancelled = jobs.cancel(job.job_id, actor="carol")
    assert cancelled.state is JobState.CANCELLED and cancelled.error == "cancelled by carol"
    assert backtests.stopped == [(job.subject, "cancelled", "cancelled by carol")]


def dead_owner() -> str:
    """An owner in this process but not this service instance: a stopped one."""
    return f"{socket.gethostname()}:{os.getpid()}:deadbeef"


def stored(store: InMemoryJobStore, owner: str, state: JobState, n: int) -> JobRecord:
    job = JobRecord(
        job_id=f"{n:032x}",
        kind=JobKind.VALIDATION,
        state=state,
        payload={"n": n},
        submitted_by="alice",
        created_ns=n,
        started_ns=None if state is JobState.PENDING else n,
    )
    store.add(job, owner=owner)
    return job


@pytest.mark.parametrize("on_restart", ["fail", "requeue"])
def test_a_start_recovers_only_what_a_dead_owner_left(on_restart: str) -> None:
    store = InMemoryJobStore()
    orphans = [
        stored(store, dead_owner(), JobState.RUNNING, 1),
        stored(store, dead_owner(), JobState.PENDING, 2),
    ]
    alive = stored(store, OTHER_HOST, JobState.RUNNING, 3)  # another host: not ours to judge
    jobs, _, _ = service(store=store, on_restart=on_restart)
    jobs.start()
    for orphan in orphans:
        job = jobs.get(orphan.job_id)
        if on_restart == "fail":
            assert job.state is JobState.FAILED and job.error == INTERRUPTED
        else:
            assert job.state is JobState.COMPLETED and job.result is not None
            assert job.result["echo"] == orphan.payload
        assert store.owner(orphan.job_id) == jobs.owner
    assert jobs.get(alive.job_id).state is JobState.RUNNING
    assert store.owner(alive.job_id) == OTHER_HOST


def test_a_cancel_of_another_process_s_job_is_left_for_its_owner() -> None:
    store = InMemoryJobStore()
    theirs = stored(store, OTHER_HOST, JobState.RUNNING, 1)
    jobs, _, _ = service(store=store, cancel_wait_seconds=0.0)
    still = jobs.cancel(theirs.job_id, actor="carol")
    assert still.state is JobState.RUNNING  # the owner acts on it
    assert store.cancel_requests(OTHER_HOST) == [(theirs.job_id, "cancelled by carol")]
    orphan = stored(store, dead_owner(), JobState.RUNNING, 2)
    assert jobs.cancel(orphan.job_id, actor="carol").state is JobState.CANCELLED


def test_the_owner_acts_on_a_cancel_asked_elsewhere() -> None:
    runner = HeldRunner()
    jobs, store, _ = service(runner, poll_seconds=0.01)
    jobs.start()
    job = jobs.submit(JobKind.VALIDATION, {}, submitted_by="a")
    jobs.job_started(job.job_id)
    store.request_cancel(job.job_id, "cancelled by dave")
    done = threading.Event()
    for _ in range(500):
        if jobs.get(job.job_id).finished:
            done.set()
            break
        threading.Event().wait(0.01)
    jobs.stop()
    assert done.is_set()
    assert (job.job_id, "cancelled by dave") in runner.cancels
    assert jobs.get(job.job_id).error == "cancelled by dave"


def test_events_from_a_worker_are_published_under_the_job_s_correlation_id() -> None:
    runner = HeldRunner()
    jobs, _, events = service(runner)
    jobs.start()
    with correlated("req-9"):
        job = jobs.submit(JobKind.VALIDATION, {}, submitted_by="a")
    jobs.job_started(job.job_id)
    jobs.job_event(job.job_id, "signal", {"n": 1}, "s-1")
    jobs.job_event(job.job_id, "not_a_type", {"n": 2}, None)  # dropped
    signals = [(p, s, c) for t, p, s, c in events.seen if t is EventType.signal]
    assert signals == [({"n": 1}, "s-1", "req-9")]


def test_owner_liveness() -> None:
    me = f"{socket.gethostname()}:{os.getpid()}:me"
    assert owner_alive(me, me)
    assert not owner_alive(f"{socket.gethostname()}:{os.getpid()}:old", me)
    assert owner_alive(OTHER_HOST, me)
    assert owner_alive(f"{socket.gethostname()}:1:x", me)  # pid 1 lives
    assert not owner_alive(f"{socket.gethostname()}:4194304:x", me)  # past pid_max


def test_a_job_whose_start_was_not_stored_still_completes() -> None:
    runner = HeldRunner()
    jobs, _, _ = service(runner)
    jobs.start()
    job = jobs.submit(JobKind.VALIDATION, {}, submitted_by="a")
    jobs.job_finished(job.job_id, JobOutcome(JobState.COMPLETED, result={"ok": True}))
    ended = jobs.get(job.job_id)
    assert ended.state is JobState.COMPLETED and ended.started_ns is not None
    jobs.job_finished(job.job_id, JobOutcome(JobState.FAILED, error="late"))  # ended: kept
    assert jobs.get(job.job_id).state is JobState.COMPLETED
