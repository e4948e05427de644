"""Jobs in real worker processes: a job that raises, a worker killed with SIGKILL, a job past
its time limit and a cancel each end that job (failed or cancelled, with the reason) and leave
the service healthy, running the next job.

No stopwatch: "cancel kills within a second" is checked by the state the cancel returns (it
waits at most ``cancel_wait_seconds``) and by the child's process being gone.
"""

import functools
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest
from pydantic import JsonValue

from quantdesk.adapters.jobs.local_pool import LocalProcessJobRunner
from quantdesk.adapters.storage.database import Database
from quantdesk.adapters.storage.job_store import SqlJobStore
from quantdesk.bootstrap import bootstrap, run_job
from quantdesk.domain.backtest import BacktestRequest
from quantdesk.domain.correlation import correlated
from quantdesk.domain.events import EventType
from quantdesk.domain.jobs import JobKind, JobRecord, JobState
from quantdesk.domain.runs import RunState
from quantdesk.services.job_handlers import HANDLERS
from quantdesk.services.jobs import JobService
from quantdesk.services.platform import Platform
from quantdesk.services.ports.jobs import JobHandler
from quantdesk.services.synthetic import SyntheticMarketConfig
from quantdesk.settings import QuantdeskSettings
from support import job_kinds
from support.registry import postgres_database, sqlite_database, trend

DEADLINE_SECONDS = 60.0


class RecordingPublisher:
    def __init__(self) -> None:
        self.events: list[tuple[EventType, dict[str, JsonValue], str | None]] = []
        self._lock = threading.Lock()

    def publish(
        self, type: EventType, payload: Mapping[str, JsonValue], *, subject: str | None = None
    ) -> None:
        with self._lock:
            self.events.append((type, dict(payload), subject))

    def states(self, job_id: str) -> list[str]:
        with self._lock:
            return [
                str(p["state"])
                for t, p, _ in self.events
                if t is EventType.job_update and p["job_id"] == job_id
            ]


ServiceFactory = Callable[..., JobService]


@pytest.fixture
def settings(tmp_path: Path) -> QuantdeskSettings:
    return QuantdeskSettings(home=tmp_path / "home")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield sqlite_database(tmp_path)
        return
    with postgres_database() as url:
        yield url


@pytest.fixture
def make_service(settings: QuantdeskSettings, database_url: str) -> Iterator[ServiceFactory]:
    started: list[JobService] = []
    database = Database(database_url)

    def make(
        handlers: Mapping[JobKind, JobHandler],
        *,
        workers: int = 2,
        time_limit: float = 600.0,
        publisher: RecordingPublisher | None = None,
        on_restart: str = "fail",
        start: bool = True,
        niceness: int = 0,
    ) -> JobService:
        runner = LocalProcessJobRunner(
            functools.partial(run_job, settings),
            workers=workers,
            time_limit_seconds=time_limit,
            niceness=niceness,
        )
        service = JobService(
            SqlJobStore(database),
            runner,
            publisher,
            handlers=handlers,
            on_restart=on_restart,  # type: ignore[arg-type]
            cancel_wait_seconds=10.0,  # a loaded machine: the kill takes 0.5 s, the wait is a bound
        )
        if start:
            service.start()
            started.append(service)
        return service

    yield make
    for service in started:
        service.stop()
    database.dispose()


def wait_for(service: JobService, job_id: str, done: Callable[[JobRecord], bool]) -> JobRecord:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        job = service.get(job_id)
        if done(job) or time.monotonic() > deadline:
            return job
        time.sleep(0.02)


def finished(service: JobService, job_id: str) -> JobRecord:
    return wait_for(service, job_id, lambda job: job.finished)


def pid_of(path: Path) -> int:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not path.exists() or not path.read_text():
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.02)
    return int(path.read_text())


def gone(pid: int) -> bool:
    """Ended: no such process, or a zombie (here pid 1 may never reap an orphan's)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def test_a_job_completes_in_a_worker_process(make_service: ServiceFactory) -> None:
    publisher = RecordingPublisher()
    service = make_service({JobKind.VALIDATION: job_kinds.echo}, publisher=publisher)
    with correlated("req-7"):
        job = service.submit(JobKind.VALIDATION, {"ref": "x@1"}, submitted_by="alice")
    assert job.state is JobState.PENDING and job.correlation_id == "req-7"
    done = finished(service, job.job_id)
    assert done.state is JobState.COMPLETED, done.error
    assert done.result is not None and done.result["echo"] == {"ref": "x@1"}
    assert done.result["pid"] != os.getpid()  # it ran in another process
    assert done.result["correlation_id"] == "req-7"  # under the request's correlation id
    assert done.progress == 100.0
    assert done.started_ns is not None and done.finished_ns is not None
    assert publisher.states(job.job_id) == ["pending", "running", "completed"]
    assert service.healthy()[0]
    stats = service.stats()
    assert stats.counts[(JobKind.VALIDATION, JobState.COMPLETED)] == 1
    assert stats.finished[JobKind.VALIDATION] == 1


def test_a_worker_runs_at_a_lower_cpu_priority_than_the_service(
    make_service: ServiceFactory,
) -> None:
    service = make_service({JobKind.VALIDATION: job_kinds.echo}, niceness=7)
    done = finished(service, service.submit(JobKind.VALIDATION, {}, submitted_by="a").job_id)
    assert done.result is not None, done.error
    assert done.result["niceness"] == min(19, os.nice(0) + 7)  # requests before backtests


def test_a_job_that_raises_fails_with_its_reason_and_others_run(
    make_service: ServiceFactory,
) -> None:
    service = make_service(
        {
            JobKind.VALIDATION: job_kinds.refuse,
            JobKind.INGEST_SIGNALS: job_kinds.crash,
            JobKind.INGEST_BARS: job_kinds.echo,
        }
    )
    refused = service.submit(JobKind.VALIDATION, {}, submitted_by="alice")
    crashed = service.submit(JobKind.INGEST_SIGNALS, {}, submitted_by="alice")
    refused_done, crashed_done = (
        finished(service, refused.job_id),
        finished(service, crashed.job_id),
    )
    assert refused_done.state is JobState.FAILED
    assert refused_done.error_code == "test_refused"
    assert refused_done.error == "the payload is refused"
    assert crashed_done.state is JobState.FAILED and crashed_done.error_code == "internal"
    assert crashed_done.error is not None and "ZeroDivisionError" in crashed_done.error
    assert "secret internals" not in crashed_done.error  # no internals reach the user
    after = service.submit(JobKind.INGEST_BARS, {}, submitted_by="alice")
    assert finished(service, after.job_id).state is JobState.COMPLETED
    assert service.healthy()[0]


def test_a_worker_killed_with_sigkill_fails_its_job_only(
    make_service: ServiceFactory, tmp_path: Path
) -> None:
    service = make_service(
        {JobKind.VALIDATION: job_kinds.loop, JobKind.INGEST_BARS: job_kinds.echo}
    )
    pid_file = tmp_path / "pid"
    job = service.submit(JobKind.VALIDATION, {"pid_file": str(pid_file)}, submitted_by="bob")
    os.kill(pid_of(pid_file), signal.SIGKILL)
    done = finished(service, job.job_id)
    assert done.state is JobState.FAILED
    assert done.error_code == "worker_died"
    assert done.error is not None and "SIGKILL" in done.error
    after = service.submit(JobKind.INGEST_BARS, {}, submitted_by="bob")
    assert finished(service, after.job_id).state is JobState.COMPLETED
    assert service.healthy()[0]


def test_a_worker_that_exits_fails_its_job_with_the_exit_code(
    make_service: ServiceFactory,
) -> None:
    service = make_service({JobKind.VALIDATION: job_kinds.exit_hard})
    job = service.submit(JobKind.VALIDATION, {}, submitted_by="bob")
    done = finished(service, job.job_id)
    assert done.state is JobState.FAILED and done.error_code == "worker_died"
    assert done.error == "the worker process exited with code 3"


def test_a_job_past_its_time_limit_is_stopped_and_failed(
    make_service: ServiceFactory, tmp_path: Path
) -> None:
    service = make_service({JobKind.VALIDATION: job_kinds.loop}, time_limit=1.5)
    pid_file = tmp_path / "pid"
    job = service.submit(JobKind.VALIDATION, {"pid_file": str(pid_file)}, submitted_by="bob")
    done = finished(service, job.job_id)
    assert done.state is JobState.FAILED
    assert done.error_code == "job_time_limit"
    assert done.error == "the job ran past its time limit of 1.5 s"
    if pid_file.exists() and pid_file.read_text():  # a slow start may be stopped before it
        assert gone(int(pid_file.read_text()))
    assert service.healthy()[0]


@pytest.mark.parametrize("handler", [job_kinds.loop, job_kinds.stubborn])
def test_cancel_stops_a_running_job(
    make_service: ServiceFactory, tmp_path: Path, handler: JobHandler
) -> None:
    """Cancel returns once the job has ended (SIGTERM, SIGKILL for one that ignores it)."""
    publisher = RecordingPublisher()
    service = make_service({JobKind.VALIDATION: handler}, publisher=publisher)
    pid_file = tmp_path / "pid"
    job = service.submit(JobKind.VALIDATION, {"pid_file": str(pid_file)}, submitted_by="bob")
    pid = pid_of(pid_file)
    running = wait_for(service, job.job_id, lambda j: j.progress > 0)
    assert running.state is JobState.RUNNING and running.message is not None
    cancelled = service.cancel(job.job_id, actor="carol")
    assert cancelled.state is JobState.CANCELLED
    assert cancelled.error == "cancelled by carol" and cancelled.error_code == "job_cancelled"
    assert gone(pid)
    assert publisher.states(job.job_id)[-1] == "cancelled"


def test_cancel_of_a_pending_job_means_it_never_runs(make_service: ServiceFactory) -> None:
    service = make_service({JobKind.VALIDATION: job_kinds.loop}, workers=1)
    busy = service.submit(JobKind.VALIDATION, {}, submitted_by="bob")
    waiting = service.submit(JobKind.VALIDATION, {}, submitted_by="bob")
    wait_for(service, busy.job_id, lambda j: j.state is JobState.RUNNING)
    cancelled = service.cancel(waiting.job_id, actor="bob")
    assert cancelled.state is JobState.CANCELLED and cancelled.started_ns is None
    assert service.cancel(busy.job_id, actor="bob").state is JobState.CANCELLED


def test_a_restart_fails_what_a_stopped_service_left_running(
    make_service: ServiceFactory, tmp_path: Path
) -> None:
    first = make_service({JobKind.VALIDATION: job_kinds.loop}, workers=1)
    running = first.submit(JobKind.VALIDATION, {}, submitted_by="bob")
    pending = first.submit(JobKind.VALIDATION, {}, submitted_by="bob")
    wait_for(first, running.job_id, lambda j: j.state is JobState.RUNNING)
    first.stop()  # as a killed service would: the rows stay running / pending
    assert first.get(running.job_id).state is JobState.RUNNING
    second = make_service({JobKind.VALIDATION: job_kinds.echo})
    for job_id in (running.job_id, pending.job_id):
        job = second.get(job_id)
        assert job.state is JobState.FAILED
        assert job.error == "interrupted by a service restart"
        assert job.error_code == "job_interrupted"


def test_a_restart_may_queue_them_again(make_service: ServiceFactory) -> None:
    first = make_service({JobKind.VALIDATION: job_kinds.loop}, workers=1)
    running = first.submit(JobKind.VALIDATION, {"n": 1}, submitted_by="bob")
    pending = first.submit(JobKind.VALIDATION, {"n": 2}, submitted_by="bob")
    wait_for(first, running.job_id, lambda j: j.state is JobState.RUNNING)
    first.stop()
    second = make_service({JobKind.VALIDATION: job_kinds.echo}, on_restart="requeue")
    for job_id, n in ((running.job_id, 1), (pending.job_id, 2)):
        job = finished(second, job_id)
        assert job.state is JobState.COMPLETED, job.error
        assert job.result is not None and job.result["echo"] == {"n": n}


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with one day of synthetic bars and trend-a registered."""
    home = tmp_path_factory.mktemp("market") / "home"
    desk = bootstrap(home=home)
    desk.synthetic.synthesize(SyntheticMarketConfig(instruments=1, days=1, seed=3))
    desk.registry.register(trend(), "alice")
    return home


def desk_jobs(home: Path, handlers: Mapping[JobKind, JobHandler]) -> tuple[JobService, Platform]:
    settings = QuantdeskSettings(home=home)
    desk = bootstrap(settings)
    runner = LocalProcessJobRunner(
        functools.partial(run_job, settings), workers=1, time_limit_seconds=600
    )
    store = SqlJobStore(Database(settings.database))
    return JobService(store, runner, PUBLISHER, backtests=desk.backtests, handlers=handlers), desk


PUBLISHER = RecordingPublisher()


def test_a_backtest_job_runs_the_submitted_run_to_completion(market: Path) -> None:
    jobs, desk = desk_jobs(market, HANDLERS)
    jobs.start()
    try:
        with correlated("req-bt"):
            job = jobs.submit_backtest(
                BacktestRequest(strategies=["trend-a"], label="by job"), submitted_by="ana"
            )
        assert desk.backtests.record(job.subject or "").state is RunState.PENDING
        done = finished(jobs, job.job_id)
    finally:
        jobs.stop()
    assert done.state is JobState.COMPLETED, done.error
    assert done.result is not None and done.result["run_id"] == job.subject
    assert done.progress == 100.0
    run = desk.backtests.record(job.subject or "")
    assert (run.state, run.job_id, run.submitted_by) == (RunState.COMPLETED, job.job_id, "ana")
    assert run.correlation_id == "req-bt"  # the request's id travelled into the worker
    progress = [
        float(p["progress"])  # type: ignore[arg-type]
        for t, p, s in PUBLISHER.events
        if t is EventType.backtest_progress and p["job_id"] == job.job_id
    ]
    assert progress and progress == sorted(progress)
    assert all(s == job.subject for t, _, s in PUBLISHER.events if t is EventType.backtest_progress)


def test_a_cancelled_backtest_job_marks_its_run_cancelled(market: Path, tmp_path: Path) -> None:
    jobs, desk = desk_jobs(market, {JobKind.BACKTEST: job_kinds.loop})
    jobs.start()
    try:
        job = jobs.submit_backtest(BacktestRequest(strategies=["trend-a"]), submitted_by="ana")
        wait_for(jobs, job.job_id, lambda j: j.progress > 0)
        assert jobs.cancel(job.job_id, actor="bo").state is JobState.CANCELLED
    finally:
        jobs.stop()
    run = desk.backtests.record(job.subject or "")
    assert run.state is RunState.CANCELLED and run.error == "cancelled by bo"


def test_a_cancel_that_reaches_another_server_process_is_carried_out_by_the_owner(
    make_service: ServiceFactory, tmp_path: Path, settings: QuantdeskSettings, database_url: str
) -> None:
    """Two server processes on one database (``uvicorn --workers 2``): the one that did not
    start the job leaves the cancel in its row; the owner's poller stops the job."""
    owner = make_service({JobKind.VALIDATION: job_kinds.loop})
    pid_file = tmp_path / "pid"
    job = owner.submit(JobKind.VALIDATION, {"pid_file": str(pid_file)}, submitted_by="bob")
    pid = pid_of(pid_file)
    other = JobService(
        SqlJobStore(Database(database_url)),
        LocalProcessJobRunner(
            functools.partial(run_job, settings), workers=1, time_limit_seconds=60
        ),
        handlers={JobKind.VALIDATION: job_kinds.loop},
        owner="other-host.example:1:other",  # another process: it cannot kill the child
        cancel_wait_seconds=DEADLINE_SECONDS,
    )
    ended = other.cancel(job.job_id, actor="carol")  # waits for the owner to act
    assert ended.state is JobState.CANCELLED and ended.error == "cancelled by carol"
    assert gone(pid)


SERVICE_PROCESS = """
import functools, sys, time
sys.path[:0] = {paths!r}
from quantdesk.adapters.jobs.local_pool import LocalProcessJobRunner
from quantdesk.bootstrap import run_job
from quantdesk.services.ports.jobs import JobWork
from quantdesk.settings import QuantdeskSettings
from support import job_kinds

class Sink:
    def __getattr__(self, name):
        return lambda *args: None

runner = LocalProcessJobRunner(
    functools.partial(run_job, QuantdeskSettings(home={home!r})),
    workers=1,
    time_limit_seconds=600,
)
runner.start(Sink())
runner.submit(JobWork("0" * 32, "validation", {{"pid_file": {pid_file!r}}}, None, job_kinds.loop))
time.sleep(600)
"""


def test_a_job_does_not_outlive_a_service_killed_with_sigkill(tmp_path: Path) -> None:
    """A restart must not find the old service's job still running beside its re-run."""
    import subprocess
    import sys

    pid_file = tmp_path / "pid"
    code = SERVICE_PROCESS.format(
        paths=[str(Path(__file__).parents[1])], home=str(tmp_path / "home"), pid_file=str(pid_file)
    )
    server = subprocess.Popen([sys.executable, "-c", code])
    try:
        child = pid_of(pid_file)
        assert not gone(child)
    finally:
        server.kill()
        server.wait()
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not gone(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone(child)
