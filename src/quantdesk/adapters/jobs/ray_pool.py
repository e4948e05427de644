"""``RayTrialPool``: trials on a Ray cluster (``--ray ADDRESS``), one warm engine per actor.

Each of ``workers`` actors builds its trial engine once (``trial_worker.TrialActor``) and
runs trial after trial, exactly as a local worker process does; the pool hands the next spec
to the next free actor and returns outcomes in spec order, so a Ray sweep equals a local one
for the same specs. An actor that dies under a trial (its node lost, its process killed)
fails that trial only and is replaced.

Ray is imported on first use (it is an optional extra, ~260 MB, and a second to import).
What a cluster needs: quantdesk (and the plug-in packages the definitions name) installed at
the same version on every node, and the desk's home (catalog, scratch catalogs) at the same
path on every node, e.g. shared storage: the worker config names paths, not data. On one
machine with the same virtualenv (the tests' case) nothing else is needed.

Connecting: ``address`` is ``auto`` (the cluster started on this machine) or ``HOST:PORT``
of its GCS. Ray 2.60 turns token authentication on for clusters it starts and writes the
token to ``~/.ray/auth_token``; a driver must then run with ``RAY_AUTH_MODE=token``, read
when Ray is imported, so the pool sets it before the import when a token is at hand and the
variable is unset. Ray retries a refused connect (a missing token) ~20 times a second
apart: the pool bounds that count by its connect timeout, and first checks that ``HOST:PORT``
answers at all, so a wrong port or a host down fails in seconds with an error that names the
address. A port that answers but is not Ray's still costs Ray's own ~40 s of gRPC timeouts:
those are read once, at import, and shortening them makes Ray abort the whole process when
the GCS is slow (tried), so they are left alone.
"""

import contextlib
import logging
import os
import socket
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from quantdesk.adapters.jobs.trial_worker import WORKER_DIED, WORKER_FACTORY, TrialActor
from quantdesk.domain.errors import InvalidInputError, QuantdeskError
from quantdesk.domain.trials import TrialOutcome, TrialSpec

WORKERS_MAX = 4096
_HINT = "start one with `ray start --head`, or pass the address it printed (HOST:PORT)"


def import_ray(environ: Any = os.environ) -> Any:
    """The ``ray`` module, or an InvalidInputError (code ``ray_missing``) that says how to
    get it. Sets ``RAY_AUTH_MODE=token`` first when a token is available and the mode unset
    (see the module's docstring)."""
    if "ray" not in sys.modules and "RAY_AUTH_MODE" not in environ and _token_available(environ):
        environ["RAY_AUTH_MODE"] = "token"
    try:
        import ray
    except ImportError:
        raise InvalidInputError(
            "Ray is not installed: trials cannot run on a Ray cluster",
            code="ray_missing",
            hint="install quantdesk's ray extra (pip install 'quantdesk[ray]'), or run the "
            "trials on local worker processes",
        ) from None
    return ray


def _token_available(environ: Any) -> bool:
    if environ.get("RAY_AUTH_TOKEN"):
        return True
    path = environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token"
    return Path(path).is_file()


def _unreachable(address: str, detail: str) -> InvalidInputError:
    return InvalidInputError(
        f"cannot connect to the Ray cluster at {address}: {detail}",
        code="ray_unreachable",
        hint=_HINT,
        data={"address": address},
    )


def _check_reachable(address: str, timeout: float) -> None:
    """``HOST:PORT`` accepts a TCP connection within ``timeout`` (``auto`` is Ray's own)."""
    if address == "auto":
        return
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not host or not port.isdigit():
        raise InvalidInputError(
            f"{address!r} is not a Ray address (auto, or HOST:PORT)",
            code="ray_address_invalid",
            data={"address": address},
        )
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as error:
        raise _unreachable(address, error.strerror or str(error)) from None


def connect(ray: Any, address: str, timeout: float) -> bool:
    """Connect this process to the cluster; False when it was connected already (the pool
    then leaves the connection to its owner)."""
    if ray.is_initialized():
        return False
    _check_reachable(address, timeout)
    retries = "RAY_gcs_server_port_wait_time_s"
    bounded = retries not in os.environ
    if bounded:  # Ray's GCS connect retries about once a second, 20 times by default
        os.environ[retries] = str(max(1, round(timeout)))
    try:
        ray.init(
            address=address,
            namespace="quantdesk",
            logging_level=logging.WARNING,
            log_to_driver=False,
        )
    except Exception as error:
        text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        if "auth" in str(error).lower():
            text += " (a cluster with token authentication: set RAY_AUTH_MODE=token and the token)"
        raise _unreachable(address, text) from None
    finally:
        if bounded:
            os.environ.pop(retries, None)
    return True


class RayTrialPool:
    """The ``TrialPool`` port on Ray actors, each holding one warm engine."""

    def __init__(
        self,
        address: str,
        workers: int,
        worker_config: str,
        *,
        factory: str = WORKER_FACTORY,
        connect_timeout_seconds: float = 5.0,
        start_timeout_seconds: float = 300.0,
    ) -> None:
        if not 1 <= workers <= WORKERS_MAX:
            raise InvalidInputError(
                f"a Ray trial pool needs 1 to {WORKERS_MAX} workers, not {workers}",
                code="trial_workers_invalid",
                data={"workers": workers},
            )
        self._ray = import_ray()
        self._address = address
        self._size = workers
        self._config = worker_config
        self._factory = factory
        self._start_timeout = start_timeout_seconds
        self._actors: list[Any] = []
        self._closed = False
        self._connected_here = connect(self._ray, address, connect_timeout_seconds)
        try:
            self._actor_class = self._ray.remote(num_cpus=1, max_restarts=0)(TrialActor)
            self._fill()
        except BaseException:
            self.close()
            raise

    @property
    def workers(self) -> int:
        return self._size

    def run(
        self,
        specs: Sequence[TrialSpec],
        on_outcome: Callable[[TrialOutcome], None] | None = None,
    ) -> list[TrialOutcome]:
        """Outcomes in the order of ``specs``; ``on_outcome`` as each one finishes."""
        if self._closed:
            raise QuantdeskError("the trial pool is closed", code="trial_pool_closed")
        outcomes: list[TrialOutcome | None] = [None] * len(specs)
        flying: dict[Any, tuple[Any, int, float]] = {}  # task -> (actor, index, started)
        try:
            self._fill()
            idle = list(self._actors)
            next_index = 0
            while next_index < len(specs) or flying:
                while idle and next_index < len(specs):
                    actor = idle.pop(0)
                    task = actor.evaluate.remote(specs[next_index])
                    flying[task] = (actor, next_index, time.perf_counter())
                    next_index += 1
                done, _ = self._ray.wait(list(flying), num_returns=1)
                for task in done:
                    actor, index, started = flying.pop(task)
                    outcome, healthy = self._collect(task, specs[index], started)
                    if healthy:
                        idle.append(actor)
                    else:
                        idle.append(self._replace(actor))
                    outcomes[index] = outcome
                    if on_outcome is not None:
                        on_outcome(outcome)
        except BaseException:
            for actor, _, _ in flying.values():  # abandoned trials: their actors go
                self._drop(actor)
            raise
        return [outcome for outcome in outcomes if outcome is not None]

    def close(self) -> None:
        """Kill the actors; disconnect only if this pool connected (idempotent)."""
        if self._closed:
            return
        self._closed = True
        for actor in list(self._actors):
            self._drop(actor)
        if self._connected_here and self._ray.is_initialized():
            self._ray.shutdown()

    def __enter__(self) -> "RayTrialPool":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- actors ------------------------------------------------------------------------------

    def _collect(self, task: Any, spec: TrialSpec, started: float) -> tuple[TrialOutcome, bool]:
        """The task's outcome and whether its actor may run another trial."""
        exceptions = self._ray.exceptions
        try:
            outcome, retire = self._ray.get(task)
        except (exceptions.RayActorError, exceptions.WorkerCrashedError) as error:
            text = str(error).strip().splitlines()[0] if str(error).strip() else ""
            return (
                TrialOutcome(
                    key=spec.key,
                    error=f"the trial's Ray actor died: {type(error).__name__}: {text}",
                    code=WORKER_DIED,
                    wall_seconds=time.perf_counter() - started,
                ),
                False,
            )
        return outcome, not retire

    def _start(self) -> list[Any]:
        """Start actors up to the pool's size; the new ones, not yet known to be ready."""
        started = []
        while len(self._actors) < self._size:
            actor = self._actor_class.remote(self._factory, self._config)
            self._actors.append(actor)
            started.append(actor)
        return started

    def _fill(self) -> None:
        """Start missing actors and wait until each has built its engine (in parallel)."""
        fresh = self._start()
        if not fresh:
            return
        answers = [actor.ready.remote() for actor in fresh]
        try:
            replies = self._ray.get(answers, timeout=self._start_timeout)
        except self._ray.exceptions.GetTimeoutError:
            raise QuantdeskError(
                f"the Ray cluster at {self._address} did not start {len(fresh)} trial actors "
                f"within {self._start_timeout:g} s",
                code="trial_pool_failed",
                hint="the cluster may have fewer free CPUs than workers: ask for fewer",
                data={"workers": self._size},
            ) from None
        for reply in replies:
            if reply[0] == "failed":
                _, text, code, hint = reply
                raise QuantdeskError(
                    f"a Ray trial actor could not build its engine: {text}",
                    code="trial_worker_failed",
                    hint=hint or None,
                    data={"cause": code},
                )

    def _replace(self, actor: Any) -> Any:
        self._drop(actor)
        self._fill()
        return self._actors[-1]

    def _drop(self, actor: Any) -> None:
        with contextlib.suppress(Exception):  # already dead, or the cluster is gone
            self._ray.kill(actor, no_restart=True)
        with contextlib.suppress(ValueError):
            self._actors.remove(actor)
