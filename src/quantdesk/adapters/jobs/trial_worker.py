"""The worker side of the trial pools: one warm trial engine per process (or Ray actor).

A worker builds its engine ONCE, from a factory named by import path
(``"quantdesk.bootstrap_research:trial_worker"``) and the JSON worker config the pool was
given, then runs trial after trial on it: the imports, the catalog reads and the engine are
paid once per worker instead of once per trial. The factory is named, not passed, because
adapters may not import the composition root, and a name is all a forked child or a Ray node
needs to find it.

Trials travel as pickles between the pool and its own workers (the same code on both ends):
an outcome must come back bit-identical, NaN metrics included, which JSON would not keep.
"""

import contextlib
import importlib
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, Protocol

from quantdesk.domain.errors import InvalidInputError, QuantdeskError
from quantdesk.domain.trials import TrialOutcome, TrialSpec

WORKER_FACTORY = "quantdesk.bootstrap_research:trial_worker"
"""The default factory: the desk's trial engine built from the worker config."""

TRIAL_CRASHED = "trial_crashed"  # the engine raised something that is not a QuantdeskError
WORKER_DIED = "worker_died"  # the worker process / actor ended in the middle of a trial


class TrialEngine(Protocol):
    """What a worker holds: ``services.trials.TrialEvaluator`` (named structurally here, as
    adapters do not import services modules)."""

    def evaluate(self, spec: TrialSpec) -> TrialOutcome: ...


TrialEngineFactory = Callable[[str], TrialEngine]


def resolve_factory(path: str) -> TrialEngineFactory:
    """The callable named ``module:attribute`` (imported here, in the worker)."""
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise InvalidInputError(
            f"{path!r} is not a module:attribute path of a trial engine factory",
            code="trial_factory_invalid",
            data={"factory": path},
        )
    try:
        factory: TrialEngineFactory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise InvalidInputError(
            f"the trial engine factory {path} cannot be imported: {error}",
            code="trial_factory_invalid",
            data={"factory": path},
        ) from None
    return factory


def build_engine(factory: str, worker_config: str) -> TrialEngine | tuple[str, str, str | None]:
    """The worker's engine, or why it could not be built (message, code, hint): a pool that
    cannot build its engines cannot run, and says so with the worker's own reason."""
    try:
        return resolve_factory(factory)(worker_config)
    except QuantdeskError as error:
        return error.message, error.code, error.hint
    except Exception as error:
        return f"{type(error).__name__}: {error}", "trial_worker_failed", None


def evaluate_one(engine: TrialEngine, spec: TrialSpec) -> tuple[TrialOutcome, bool]:
    """The spec's outcome and whether the worker must retire after it.

    A QuantdeskError is already an outcome (the engine's contract); anything else (a bug,
    an engine that raised mid-run) fails this trial only, and the worker retires: a warm
    engine left in an unknown state must not run the next trial, whose outcome would then
    depend on what ran before it."""
    started = time.perf_counter()
    try:
        return engine.evaluate(spec), False
    except Exception as error:
        last = traceback.extract_tb(error.__traceback__)[-1:]
        where = f" (at {last[0].filename}:{last[0].lineno})" if last else ""
        return (
            TrialOutcome(
                key=spec.key,
                error=f"the trial crashed: {type(error).__name__}: {error}{where}",
                code=TRIAL_CRASHED,
                wall_seconds=time.perf_counter() - started,
            ),
            True,
        )


def died_outcome(spec: TrialSpec, exitcode: int | None, wall_seconds: float) -> TrialOutcome:
    """The outcome of a trial whose worker process ended under it (a segfault, SIGKILL)."""
    if exitcode is not None and exitcode < 0:
        number = -exitcode
        name = signal.Signals(number).name if number in signal.valid_signals() else str(number)
        why = " (out of memory, or killed from outside)" if number == signal.SIGKILL else ""
        text = f"the trial's worker process was killed by {name}{why}"
    elif exitcode:
        text = f"the trial's worker process exited with code {exitcode}"
    else:
        text = "the trial's worker process ended without an outcome"
    return TrialOutcome(key=spec.key, error=text, code=WORKER_DIED, wall_seconds=wall_seconds)


def _die_with_the_pool(lifeline: Connection) -> None:
    """End this worker when the pool's process ends, however it ends (SIGKILL too): the
    pool holds the only write end of ``lifeline`` and never writes, so the read returns
    exactly when the pool is gone."""

    def watch() -> None:
        with contextlib.suppress(EOFError, OSError):
            lifeline.recv_bytes(1)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="quantdesk-trial-lifeline", daemon=True).start()


def worker_main(
    factory: str, worker_config: str, channel: Connection, lifeline: Connection
) -> None:
    """A pool worker's life: build the engine, say ``ready`` (or ``failed``), then run each
    ``("trial", index, spec)`` and answer ``("outcome", index, outcome, retire)`` until told
    ``None`` (or the pool is gone).

    SIGINT is ignored: Ctrl-C reaches the whole process group, and it is the pool that
    decides to stop its workers (it kills them), not each worker on its own."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_the_pool(lifeline)
    engine = build_engine(factory, worker_config)
    if isinstance(engine, tuple):
        channel.send(("failed", *engine))
        return
    channel.send(("ready",))
    while True:
        try:
            message: Any = channel.recv()
        except EOFError:
            return
        if message is None:
            return
        _, index, spec = message
        outcome, retire = evaluate_one(engine, spec)
        channel.send(("outcome", index, outcome, retire))
        if retire:
            return


class TrialActor:
    """A Ray actor's body (made remote by ``ray_pool``; no Ray import here): one engine,
    built when the actor starts, many trials."""

    def __init__(self, factory: str, worker_config: str) -> None:
        self._engine = build_engine(factory, worker_config)

    def ready(self) -> tuple[str, ...]:
        """``("ready",)`` or ``("failed", message, code, hint)`` (the build's failure)."""
        if isinstance(self._engine, tuple):
            message, code, hint = self._engine
            return ("failed", message, code, hint or "")
        return ("ready",)

    def evaluate(self, spec: TrialSpec) -> tuple[TrialOutcome, bool]:
        if isinstance(self._engine, tuple):  # never dispatched to: ready() said failed
            raise RuntimeError(self._engine[0])
        return evaluate_one(self._engine, spec)
