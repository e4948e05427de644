"""The correlation id of the work in hand: set once where a request or job enters, read by
whatever records it (logs, audit events, jobs, service events, error bodies).

A context variable, not a parameter threaded through every call: a FastAPI route running in
the thread pool and a job's worker process each see their own.
"""

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_CURRENT: ContextVar[str | None] = ContextVar("quantdesk_correlation_id", default=None)
_SHAPE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def new_correlation_id() -> str:
    return uuid.uuid4().hex


def is_correlation_id(text: str) -> bool:
    """What a client may send as its own id (``X-Request-ID``): short, no spaces or markup."""
    return _SHAPE.fullmatch(text) is not None


def current_correlation_id() -> str | None:
    return _CURRENT.get()


@contextmanager
def correlated(correlation_id: str | None) -> Iterator[str]:
    """Run the block under ``correlation_id`` (a new one when None); restored afterwards."""
    value = correlation_id if correlation_id is not None else new_correlation_id()
    token = _CURRENT.set(value)
    try:
        yield value
    finally:
        _CURRENT.reset(token)
