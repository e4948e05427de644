"""The child side of ``LocalProcessJobRunner``: one job's life in its worker process.

Messages up the pipe are JSON (progress, event, result, error), never pickles: the parent
reads them bounded and trusts nothing it cannot parse.
"""

import contextlib
import json
import logging
import os
import signal
import threading
from collections.abc import Mapping
from multiprocessing.connection import Connection
from typing import Any

from pydantic import JsonValue

from quantdesk.domain.correlation import correlated
from quantdesk.domain.errors import QuantdeskError
from quantdesk.domain.jobs import JobProgress
from quantdesk.services.ports.jobs import JobEntry, JobWork

log = logging.getLogger(__name__)


class _PipeChannel:
    """The handler's ``JobChannel`` in the child: JSON messages up the pipe."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def progress(self, progress: JobProgress) -> None:
        self._send(
            {
                "type": "progress",
                "percent": progress.percent,
                "eta_seconds": progress.eta_seconds,
                "message": progress.message,
            }
        )

    def event(
        self, type: str, payload: Mapping[str, JsonValue], *, subject: str | None = None
    ) -> None:
        self._send({"type": "event", "event": type, "payload": dict(payload), "subject": subject})

    def _send(self, message: Mapping[str, Any]) -> None:
        self._connection.send_bytes(json.dumps(message, allow_nan=False).encode())


def _die_with_the_service(lifeline: Connection) -> None:
    """End this child when the service ends, however it ends (SIGKILL too): a restart must
    not find the old service's job still running beside the one it queues again.

    The service holds the only write end of ``lifeline`` and never writes: the read returns
    (end of file) exactly when the service process is gone."""

    def watch() -> None:
        with contextlib.suppress(EOFError, OSError):
            lifeline.recv_bytes(1)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="quantdesk-job-lifeline", daemon=True).start()


def child_main(
    entry: JobEntry,
    work: JobWork,
    connection: Connection,
    lifeline: Connection,
    niceness: int = 0,
) -> None:
    """A worker's life: run one job, send how it ended, exit.

    ``niceness`` lowers the child's CPU priority: a backtest uses a whole core, and the
    service's requests (status polls, WebSocket events) must not queue behind it."""
    _die_with_the_service(lifeline)
    if niceness > 0:
        os.nice(niceness)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # ^C at the server's terminal: the parent stops us
    channel = _PipeChannel(connection)
    message: dict[str, Any]
    try:
        result = entry(work, channel)
        message = {"type": "result", "result": dict(result)}
        json.dumps(message, allow_nan=False)
    except QuantdeskError as error:
        message = {"type": "error", "error": str(error), "code": error.code}
    except BaseException as error:  # the traceback goes to the log, never to the job row
        with correlated(work.correlation_id):  # the log line names the request behind it
            log.exception("job %s failed unexpectedly", work.job_id)
        message = {
            "type": "error",
            "error": f"the job failed unexpectedly ({type(error).__name__}); see the service "
            f"log (correlation id {work.correlation_id})",
            "code": "internal",
        }
    try:
        connection.send_bytes(json.dumps(message, allow_nan=False).encode())
    finally:
        connection.close()


def warm() -> None:
    """The warm-up child: nothing to do."""
