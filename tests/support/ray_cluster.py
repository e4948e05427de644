"""TESTS ONLY: one local Ray instance for the tests that need one, stopped afterwards.

The instance is started by ``ray.init`` in a helper process of its own (a full local head
node: GCS, raylet, workers) and stopped by that process's ``ray.shutdown`` when the tests
are done. Not ``ray start``/``ray stop``: ``ray stop`` kills every Ray process of the user
on this machine, other sessions' clusters included, and takes ~7 s. The helper runs in a
session of its own, which is killed at the end whatever state it is in; its temporary
directory is private, so ``address="auto"`` elsewhere never finds this instance, and the
tests only ever use the address it printed.

Ray turns token authentication on for the instance (the token in ``~/.ray/auth_token``);
the tests' process must then import Ray with ``RAY_AUTH_MODE=token``, which only works before
Ray's first import: when Ray was imported without it already, the instance is started with
authentication off instead (the tests still connect; the instance lives for the tests only).
"""

import contextlib
import importlib.util
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

CPUS = 2
START_SECONDS = 120.0

_STARTER = """
import sys
import ray
context = ray.init(
    num_cpus=int(sys.argv[2]), include_dashboard=False, logging_level="WARNING",
    _temp_dir=sys.argv[1],
)
print(context.address_info["gcs_address"], flush=True)
sys.stdin.read()  # until the tests close it
ray.shutdown()
"""

needs_ray = pytest.mark.skipif(
    importlib.util.find_spec("ray") is None, reason="ray is not installed (the ray extra)"
)


@contextlib.contextmanager
def local_ray(cpus: int = CPUS) -> Iterator[str]:
    """The ``HOST:PORT`` of a fresh local Ray instance, stopped when the block ends."""
    if "ray" not in sys.modules:
        os.environ.setdefault("RAY_AUTH_MODE", "token")
    auth = "token" if os.environ.get("RAY_AUTH_MODE") == "token" else "disabled"
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": auth}
    # short: Ray's unix socket paths must fit in 107 bytes
    temp = tempfile.mkdtemp(prefix="qd-ray-")
    log = Path(temp) / "starter.log"
    with log.open("w") as err:
        process = subprocess.Popen(
            [sys.executable, "-c", _STARTER, temp, str(cpus)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env=env,
            start_new_session=True,
        )
    assert process.stdin is not None and process.stdout is not None
    try:
        readable, _, _ = select.select([process.stdout], [], [], START_SECONDS)
        address = process.stdout.readline().strip() if readable else ""
        if not address:
            raise RuntimeError(f"the local Ray instance did not start: {log.read_text()[-2000:]}")
        yield address
    finally:
        with contextlib.suppress(OSError):
            process.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=30)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # anything of it left in its session
        process.wait()
        process.stdout.close()
        shutil.rmtree(temp, ignore_errors=True)


_shared: list[tuple[contextlib.ExitStack, str]] = []
_users: list[int] = [0]


@pytest.fixture(scope="session")
def ray_address() -> Iterator[str]:
    """The address of one local Ray instance shared by every test module of the session
    that imports this fixture (pytest makes one fixture per importing module: the instance
    is counted, started by the first and stopped after the last)."""
    if importlib.util.find_spec("ray") is None:
        pytest.skip("ray is not installed (the ray extra)")
    if not _shared:
        stack = contextlib.ExitStack()
        _shared.append((stack, stack.enter_context(local_ray())))
    _users[0] += 1
    try:
        yield _shared[0][1]
    finally:
        _users[0] -= 1
        if _users[0] == 0:
            _shared.pop()[0].close()
