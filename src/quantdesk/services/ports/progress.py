"""How long work tells its progress: the CLI draws a bar, the service streams it."""

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Protocol

Advance = Callable[[int], None]


class ProgressReporter(Protocol):
    """Long work reports progress through this; the CLI draws a bar, the API streams it."""

    def task(self, description: str, total: int | None = None) -> AbstractContextManager[Advance]:
        """A step of work; call the yielded function with the units just completed."""
        ...


class SilentProgress:
    """For callers that want no progress display (tests, the Python API by default)."""

    def task(self, description: str, total: int | None = None) -> AbstractContextManager[Advance]:
        return nullcontext(_ignore)


def _ignore(_: int) -> None:
    return None
