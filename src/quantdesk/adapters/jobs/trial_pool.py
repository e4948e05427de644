"""``ProcessTrialPool``: trials on ``workers`` warm local processes (``--workers N``).

Each worker is a long-lived child that builds its trial engine once (``trial_worker``) and
runs many trials on it, so a sweep pays the imports, the catalog reads and the engine's set-up
once per worker. Children come from a *forkserver* that has imported quantdesk (as the job
runner's do): a worker, or its replacement, starts without re-importing the engine and
inherits none of this process's threads or sockets.

The pool hands the next spec, in spec order, to whichever worker is free; the outcome of a
trial depends on its spec alone (the warm engine gives a plan the same fills whatever ran
before it), so results equal a serial run's, and they come back in spec order. A worker that
dies under a trial (SIGKILL, a segfault) fails that trial only, with the reason, and is
replaced; a worker that cannot even build its engine makes the pool raise (it cannot run).
Any exception while the pool waits (Ctrl-C, an ``on_outcome`` that raises to cancel) kills
the busy workers and goes on up; the next ``run`` starts new ones.
"""

import contextlib
import multiprocessing
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from quantdesk.adapters.jobs.trial_worker import WORKER_FACTORY, died_outcome, worker_main
from quantdesk.domain.errors import InvalidInputError, QuantdeskError
from quantdesk.domain.trials import TrialOutcome, TrialSpec

WORKERS_MAX = 256


@dataclass
class _Worker:
    process: BaseProcess
    channel: Connection  # duplex: specs down, outcomes up (pickles: see trial_worker)
    lifeline: Connection  # the write end the child watches: closed, the child ends
    ready: bool = False
    retiring: bool = False  # said it will exit after its last outcome: never dispatched to
    busy: int | None = None  # the index of the spec it runs
    since: float = field(default_factory=time.perf_counter)


class TrialPoolError(QuantdeskError):
    """The pool cannot run trials at all (its workers cannot start)."""

    code = "trial_pool_failed"


class ProcessTrialPool:
    """The ``TrialPool`` port on local worker processes, each holding one warm engine."""

    def __init__(
        self,
        workers: int,
        worker_config: str,
        *,
        factory: str = WORKER_FACTORY,
        start_method: str = "forkserver",
        preload: Sequence[str] = ("quantdesk.bootstrap", "quantdesk.bootstrap_research"),
        grace_seconds: float = 2.0,
    ) -> None:
        if not 1 <= workers <= WORKERS_MAX:
            raise InvalidInputError(
                f"a trial pool needs 1 to {WORKERS_MAX} workers, not {workers}",
                code="trial_workers_invalid",
                data={"workers": workers},
            )
        self._size = workers
        self._config = worker_config
        self._factory = factory
        self._grace = grace_seconds
        self._context: Any = multiprocessing.get_context(start_method)
        if start_method == "forkserver" and preload:
            self._context.set_forkserver_preload(list(preload))
        self._workers: list[_Worker] = []
        self._closed = False
        try:
            self._fill()
        except BaseException:
            self.close()
            raise

    # --- the port ------------------------------------------------------------------------------

    @property
    def workers(self) -> int:
        return self._size

    def run(
        self,
        specs: Sequence[TrialSpec],
        on_outcome: Callable[[TrialOutcome], None] | None = None,
    ) -> list[TrialOutcome]:
        """Outcomes in the order of ``specs``; ``on_outcome`` as each one finishes (in this
        thread, in the order they finish)."""
        if self._closed:
            raise TrialPoolError("the trial pool is closed", code="trial_pool_closed")
        outcomes: list[TrialOutcome | None] = [None] * len(specs)
        pending = deque(range(len(specs)))
        try:
            self._fill()
            left = len(specs)
            while left:
                self._dispatch(specs, pending)
                for index, outcome in self._pump(specs):
                    outcomes[index] = outcome
                    left -= 1
                    if on_outcome is not None:
                        on_outcome(outcome)
        except BaseException:
            self._kill_busy()
            raise
        return [outcome for outcome in outcomes if outcome is not None]

    def close(self) -> None:
        """Tell idle workers to stop, give them ``grace_seconds``, then kill what is left and
        reap every child (idempotent; no zombie is left behind)."""
        self._closed = True
        for worker in self._workers:
            if worker.process.is_alive() and worker.busy is None:
                with contextlib.suppress(OSError, ValueError):
                    worker.channel.send(None)
        deadline = time.monotonic() + self._grace
        for worker in self._workers:
            worker.process.join(timeout=max(0.0, deadline - time.monotonic()))
        for worker in list(self._workers):
            self._end(worker)

    def __enter__(self) -> "ProcessTrialPool":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- workers -----------------------------------------------------------------------------

    def _spawn(self) -> _Worker:
        mine, theirs = self._context.Pipe(duplex=True)
        watched, lifeline = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=worker_main,
            args=(self._factory, self._config, theirs, watched),
            name="quantdesk-trial-worker",
            daemon=True,
        )
        process.start()
        theirs.close()
        watched.close()
        worker = _Worker(process, mine, lifeline)
        self._workers.append(worker)
        return worker

    def _fill(self) -> None:
        """Start workers up to the pool's size and wait until every one has built its
        engine (they build in parallel)."""
        while len(self._workers) < self._size:
            self._spawn()
        while not all(worker.ready for worker in self._workers):
            for _ in self._pump(()):
                pass  # no trial is running: nothing to collect

    def _end(self, worker: _Worker) -> None:
        """Stop (terminate, then kill) and reap one worker, and forget it."""
        if worker.process.is_alive():
            worker.process.terminate()
            worker.process.join(timeout=self._grace)
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join()
        worker.channel.close()
        worker.lifeline.close()
        worker.process.close()
        self._workers.remove(worker)

    def _kill_busy(self) -> None:
        """After an interruption: a busy worker's trial is abandoned, so the worker is
        killed (its late outcome must not reach the next run)."""
        for worker in list(self._workers):
            if worker.busy is not None or not worker.ready:
                with contextlib.suppress(ValueError):
                    worker.process.kill()
                self._end(worker)

    # --- the loop ------------------------------------------------------------------------------

    def _dispatch(self, specs: Sequence[TrialSpec], pending: deque[int]) -> None:
        for worker in self._workers:
            if not pending:
                return
            if worker.ready and not worker.retiring and worker.busy is None:
                index = pending.popleft()
                worker.busy, worker.since = index, time.perf_counter()
                try:
                    worker.channel.send(("trial", index, specs[index]))
                except OSError:  # it died just now (its sentinel says so): another takes it
                    worker.busy = None
                    pending.appendleft(index)
                    return

    def _pump(self, specs: Sequence[TrialSpec]) -> list[tuple[int, TrialOutcome]]:
        """Wait for any worker to speak or end; the outcomes that arrived (a dead worker's
        trial included, as a failure) and replacements started for workers gone."""
        waiting: list[Any] = []
        for worker in self._workers:
            waiting.append(worker.process.sentinel)
            if not worker.channel.closed:
                waiting.append(worker.channel)
        ready = set(wait(waiting))
        finished: list[tuple[int, TrialOutcome]] = []
        for worker in list(self._workers):
            if worker.channel in ready or worker.process.sentinel in ready:
                finished.extend(self._read(worker))
            if worker.process.sentinel in ready:
                finished.extend(self._gone(worker, specs))
        return finished

    def _read(self, worker: _Worker) -> list[tuple[int, TrialOutcome]]:
        finished: list[tuple[int, TrialOutcome]] = []
        channel = worker.channel
        while not channel.closed and channel.poll():
            try:
                message = channel.recv()
            except (EOFError, OSError):
                channel.close()
                break
            kind = message[0]
            if kind == "ready":
                worker.ready = True
            elif kind == "failed":
                _, text, code, hint = message
                raise TrialPoolError(
                    f"a trial worker could not build its engine: {text}",
                    code="trial_worker_failed",
                    hint=hint,
                    data={"cause": code},
                )
            elif kind == "outcome":
                _, index, outcome, retire = message
                worker.busy = None
                worker.retiring = worker.retiring or retire
                finished.append((index, outcome))
        return finished

    def _gone(self, worker: _Worker, specs: Sequence[TrialSpec]) -> list[tuple[int, TrialOutcome]]:
        """A worker ended: its trial (if any) failed with the reason; a replacement starts
        (a worker that ends before it is ready means no worker can start: raise)."""
        worker.process.join()
        exitcode = worker.process.exitcode
        busy, was_ready, since = worker.busy, worker.ready, worker.since
        self._end(worker)
        if not was_ready:
            raise TrialPoolError(
                f"a trial worker ended before it was ready (exit code {exitcode})",
                data={"exitcode": exitcode},
            )
        if not self._closed:
            self._spawn()
        if busy is None:
            return []
        return [(busy, died_outcome(specs[busy], exitcode, time.perf_counter() - since))]
