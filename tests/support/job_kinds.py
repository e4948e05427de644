"""Job handlers for tests only (module-level, so a worker process imports them by name):
registered under a product kind through ``JobService(handlers=...)``."""

import os
import signal
import time
from collections.abc import Mapping
from pathlib import Path

from pydantic import JsonValue

from quantdesk.domain.correlation import current_correlation_id
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.jobs import JobProgress
from quantdesk.services.ports.jobs import JobChannel


def echo(
    platform: object, payload: Mapping[str, JsonValue], channel: JobChannel
) -> dict[str, JsonValue]:
    """Completes at once with its payload and the worker's process id."""
    channel.progress(JobProgress(percent=50.0, message="half"))
    return {
        "echo": dict(payload),
        "pid": os.getpid(),
        "correlation_id": current_correlation_id(),
        "niceness": os.nice(0),
    }


def refuse(
    platform: object, payload: Mapping[str, JsonValue], channel: JobChannel
) -> dict[str, JsonValue]:
    raise InvalidInputError("the payload is refused", code="test_refused")


def crash(
    platform: object, payload: Mapping[str, JsonValue], channel: JobChannel
) -> dict[str, JsonValue]:
    raise ZeroDivisionError("secret internals")


def loop(
    platform: object, payload: Mapping[str, JsonValue], channel: JobChannel
) -> dict[str, JsonValue]:
    """Runs until killed; writes its pid to payload["pid_file"] first (a test kills it)."""
    pid_file = payload.get("pid_file")
    if isinstance(pid_file, str):
        Path(pid_file).write_text(str(os.getpid()))
    step = 0
    while True:
        step += 1
        channel.progress(JobProgress(percent=min(step * 0.1, 99.0), message=f"step {step}"))
        time.sleep(0.02)


def stubborn(
    platform: object, payload: Mapping[str, JsonValue], channel: JobChannel
) -> dict[str, JsonValue]:
    """Ignores SIGTERM: only SIGKILL stops it."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    return loop(platform, payload, channel)


def exit_hard(
    platform: object, payload: Mapping[str, JsonValue], channel: JobChannel
) -> dict[str, JsonValue]:
    os._exit(3)
