"""One run at a time per name, across processes, released when its holder dies.

A migration of a mapping must not run twice at once (two runs would race for one
watermark), and a run whose process was killed must not look like it is still running: the
next run, once it holds the name, knows any run still recorded as running is dead.
"""

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from threading import Lock
from typing import Protocol


class RunLocks(Protocol):
    def hold(self, name: str) -> AbstractContextManager[bool]:
        """Try to take ``name`` without waiting: True when taken (kept for the block), False
        when someone else holds it."""
        ...


class ProcessRunLocks:
    """``RunLocks`` within one process (a test's, or an embedding program's own)."""

    def __init__(self) -> None:
        self._guard = Lock()
        self._held: set[str] = set()

    @contextmanager
    def hold(self, name: str) -> Iterator[bool]:
        with self._guard:
            taken = name not in self._held
            self._held.add(name)
        try:
            yield taken
        finally:
            if taken:
                with self._guard:
                    self._held.discard(name)
