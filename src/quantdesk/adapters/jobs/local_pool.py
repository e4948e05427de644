"""``LocalProcessJobRunner``: each job in a child process of its own, at most ``workers`` at
a time, so a crash, an out-of-memory kill or a runaway run ends that child only.

Children come from a *forkserver*: a clean process started once, which has imported the heavy
modules (``preload``) and forks a child per job. A child therefore inherits neither the
server's threads nor its sockets, and starts in milliseconds instead of re-importing the
engine. One monitor thread in the parent starts children, reads what they send over a pipe
(JSON messages: progress, event, result, error), enforces the time limit and cancels, and is
the only caller of the sink. Stopping a child is SIGTERM, then SIGKILL after
``grace_seconds``.
"""

import contextlib
import json
import logging
import multiprocessing
import os
import queue
import signal
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from quantdesk.adapters.jobs.worker import child_main, warm
from quantdesk.domain.jobs import JobOutcome, JobProgress, JobState
from quantdesk.services.ports.jobs import JobEntry, JobSink, JobWork

log = logging.getLogger(__name__)

MESSAGE_MAX_BYTES = 1024 * 1024
_TICK_SECONDS = 0.05


@dataclass
class _Running:
    work: JobWork
    process: BaseProcess
    connection: Connection
    lifeline: Connection  # the write end the child watches: closed, the child ends
    started: float
    outcome: JobOutcome | None = None  # what the child said
    stop: JobOutcome | None = None  # what we decided (cancel, time limit)
    stop_sent: float | None = None
    reported: float | None = None  # when the child's outcome arrived


def _died(exitcode: int | None) -> JobOutcome:
    if exitcode is not None and exitcode < 0:
        name = signal.Signals(-exitcode).name if -exitcode in signal.valid_signals() else "?"
        why = " (out of memory, or killed from outside)" if exitcode == -signal.SIGKILL else ""
        text = f"the worker process was killed by {name}{why}"
    elif exitcode:
        text = f"the worker process exited with code {exitcode}"
    else:
        text = "the worker process ended without a result"
    return JobOutcome(JobState.FAILED, error=text, error_code="worker_died")


class LocalProcessJobRunner:
    """The ``JobRunner`` port on local child processes (the embedded default)."""

    def __init__(
        self,
        entry: JobEntry,
        *,
        workers: int,
        time_limit_seconds: float,
        start_method: str = "forkserver",
        preload: Sequence[str] = ("quantdesk.bootstrap",),
        grace_seconds: float = 0.5,
        reap_seconds: float = 2.0,
        niceness: int = 0,
    ) -> None:
        self._entry = entry
        self._niceness = niceness  # added to each child's: jobs yield the CPU to requests
        self._workers = workers
        self._time_limit = time_limit_seconds
        self._context: Any = multiprocessing.get_context(start_method)
        if start_method == "forkserver" and preload:
            self._context.set_forkserver_preload(list(preload))
        self._grace = grace_seconds
        self._reap = reap_seconds
        self._commands: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._known: set[str] = set()  # queued or running here
        self._queued: deque[JobWork] = deque()
        self._running: dict[str, _Running] = {}
        self._sink: JobSink | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._failure: str | None = None
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_write, False)

    # --- the port ------------------------------------------------------------------------------

    def start(self, sink: JobSink) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._sink = sink
        self._stopping.clear()
        self._failure = None
        self._thread = threading.Thread(target=self._monitor, name="quantdesk-jobs", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def submit(self, work: JobWork) -> None:
        with self._lock:
            self._known.add(work.job_id)
        self._commands.put(("submit", work))
        self._wake()

    def cancel(self, job_id: str, reason: str) -> bool:
        with self._lock:
            if job_id not in self._known:
                return False
        self._commands.put(("cancel", (job_id, reason)))
        self._wake()
        return True

    def healthy(self) -> tuple[bool, str]:
        if self._failure is not None:
            return False, self._failure
        if self._thread is None or not self._thread.is_alive():
            return False, "the job monitor is not running"
        if not self._ready.is_set():
            return False, "the worker processes are starting"
        with self._lock:
            running, queued = len(self._running), len(self._queued)
        return True, f"{self._workers} workers: {running} running, {queued} queued"

    # --- the monitor thread ------------------------------------------------------------------

    def _monitor(self) -> None:
        try:
            self._warm_up()
            while not self._stopping.is_set():
                self._commands_in()
                self._launch()
                self._watch()
        except BaseException as error:  # the service must say it has no workers
            self._failure = f"the job monitor failed: {type(error).__name__}: {error}"
            log.exception("the job monitor failed")
        finally:
            self._kill_all()

    def _warm_up(self) -> None:
        """One child that does nothing, before any job: the forkserver has imported the engine
        once it has forked it, so the first job starts as fast as the next (and a context
        that cannot start a process says so here, in ``healthy``)."""
        probe = self._context.Process(target=warm, name="quantdesk-job-warm-up")
        probe.start()
        probe.join()
        if probe.exitcode != 0:
            raise RuntimeError(f"a worker process could not start (exit code {probe.exitcode})")
        probe.close()
        self._ready.set()

    def _commands_in(self) -> None:
        while True:
            try:
                command, argument = self._commands.get_nowait()
            except queue.Empty:
                return
            if command == "submit":
                self._queued.append(argument)
            else:
                self._cancel(*argument)

    def _cancel(self, job_id: str, reason: str) -> None:
        stop = JobOutcome(JobState.CANCELLED, error=reason, error_code="job_cancelled")
        running = self._running.get(job_id)
        if running is not None:
            self._stop(running, stop)
            return
        for work in list(self._queued):
            if work.job_id == job_id:
                self._queued.remove(work)
                self._forget(job_id)
                self._tell("job_finished", job_id, stop)

    def _launch(self) -> None:
        while self._queued and len(self._running) < self._workers:
            work = self._queued.popleft()
            receive, send = self._context.Pipe(duplex=False)
            watched, lifeline = self._context.Pipe(duplex=False)
            process = self._context.Process(
                target=child_main,
                args=(self._entry, work, send, watched, self._niceness),
                name=f"quantdesk-job-{work.job_id[:8]}",
            )
            try:
                process.start()
            except Exception as error:  # no process to run it in: the job fails, others go on
                for end in (receive, send, watched, lifeline):
                    end.close()
                self._forget(work.job_id)
                outcome = JobOutcome(
                    JobState.FAILED,
                    error=f"no worker process could be started: {error}",
                    error_code="worker_died",
                )
                self._tell("job_finished", work.job_id, outcome)
                continue
            send.close()
            watched.close()
            with self._lock:
                self._running[work.job_id] = _Running(
                    work, process, receive, lifeline, time.monotonic()
                )
            self._tell("job_started", work.job_id)

    def _watch(self) -> None:
        waiting: list[Any] = [self._wake_read]
        for running in self._running.values():
            waiting.append(running.process.sentinel)
            if not running.connection.closed:
                waiting.append(running.connection)
        ready = set(wait(waiting, timeout=_TICK_SECONDS))
        if self._wake_read in ready:
            with contextlib.suppress(BlockingIOError):
                os.read(self._wake_read, 4096)
        now = time.monotonic()
        for job_id, running in list(self._running.items()):
            if running.connection in ready:
                self._read(running)
            if running.process.sentinel in ready:
                self._read(running)  # what it sent just before it ended
                self._end(job_id, running)
                continue
            self._enforce(running, now)

    def _read(self, running: _Running) -> None:
        connection = running.connection
        while not connection.closed and connection.poll():
            try:
                raw = connection.recv_bytes(MESSAGE_MAX_BYTES)
            except EOFError:
                connection.close()
                return
            except OSError:  # over-long: the child is not talking our protocol
                connection.close()
                self._stop(
                    running,
                    JobOutcome(
                        JobState.FAILED,
                        error=f"the worker sent a message over {MESSAGE_MAX_BYTES} bytes",
                        error_code="worker_protocol",
                    ),
                )
                return
            self._message(running, raw)

    def _message(self, running: _Running, raw: bytes) -> None:
        job_id = running.work.job_id
        try:
            message = json.loads(raw)
            kind = message["type"]
            if kind == "progress":
                progress = JobProgress(
                    percent=float(message["percent"]),
                    eta_seconds=None
                    if message["eta_seconds"] is None
                    else float(message["eta_seconds"]),
                    message=None if message["message"] is None else str(message["message"]),
                )
                self._tell("job_progress", job_id, progress)
            elif kind == "event":
                event = (str(message["event"]), dict(message["payload"]), message["subject"])
                self._tell("job_event", job_id, *event)
            elif kind == "result":
                running.outcome = JobOutcome(JobState.COMPLETED, result=dict(message["result"]))
                running.reported = time.monotonic()
            elif kind == "error":
                running.outcome = JobOutcome(
                    JobState.FAILED, error=str(message["error"]), error_code=str(message["code"])
                )
                running.reported = time.monotonic()
        except (ValueError, KeyError, TypeError):
            log.warning("job %s sent a message that is not ours: dropped", job_id)

    def _enforce(self, running: _Running, now: float) -> None:
        late = now - running.started > self._time_limit
        if running.stop is None and running.outcome is None and late:
            self._stop(
                running,
                JobOutcome(
                    JobState.FAILED,
                    error=f"the job ran past its time limit of {self._time_limit:g} s",
                    error_code="job_time_limit",
                ),
            )
        if running.stop_sent is not None and now - running.stop_sent > self._grace:
            running.process.kill()
        if running.reported is not None and now - running.reported > self._reap:
            running.process.kill()  # it said how it ended but does not exit

    def _stop(self, running: _Running, outcome: JobOutcome) -> None:
        if running.stop is None:
            running.stop = outcome
        if running.stop_sent is None and running.process.is_alive():
            running.process.terminate()
            running.stop_sent = time.monotonic()

    def _end(self, job_id: str, running: _Running) -> None:
        running.process.join(timeout=1)
        outcome = running.outcome or running.stop or _died(running.process.exitcode)
        running.connection.close()
        running.lifeline.close()
        running.process.close()
        with self._lock:
            del self._running[job_id]
        self._forget(job_id)
        self._tell("job_finished", job_id, outcome)

    def _kill_all(self) -> None:
        for running in list(self._running.values()):
            if running.process.is_alive():
                running.process.kill()
            running.process.join(timeout=5)
            running.connection.close()
            running.lifeline.close()
        with self._lock:
            self._running.clear()
            self._queued.clear()
            self._known.clear()

    # --- helpers -------------------------------------------------------------------------------

    def _forget(self, job_id: str) -> None:
        with self._lock:
            self._known.discard(job_id)

    def _tell(self, method: str, *arguments: Any) -> None:
        """Call the sink; its failure (a database down) is logged, the monitor goes on."""
        if self._sink is None:
            return
        try:
            getattr(self._sink, method)(*arguments)
        except Exception:
            log.exception("the job sink failed on %s of job %s", method, arguments[0])

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError):  # a wake-up is pending already
            os.write(self._wake_write, b"\0")
