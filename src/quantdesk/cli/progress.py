"""A rich progress display that only appears when work takes longer than a second."""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from quantdesk.services.ports import Advance

SHOW_AFTER_SECONDS = 1.0


class RateColumn(ProgressColumn):
    """Units per second (rows, trials...), over rich's recent window; blank until known."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.0f}/s", style="progress.data.speed")


class RichProgress:
    """``ProgressReporter`` for terminals: quick commands stay quiet, long ones show bars."""

    def __init__(self, console: Console, show_after: float = SHOW_AFTER_SECONDS) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            RateColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._show_after = show_after
        self._started = time.monotonic()
        self._timer: threading.Timer | None = None
        self._visible = False
        self._lock = threading.Lock()

    def __enter__(self) -> "RichProgress":
        self._started = time.monotonic()
        self._timer = threading.Timer(self._show_after, self._show)
        self._timer.daemon = True
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._timer is not None:
            self._timer.cancel()
        with self._lock:
            if self._visible:
                self._progress.stop()

    def _show(self) -> None:
        with self._lock:
            if not self._visible:
                self._progress.start()
                self._visible = True

    @contextmanager
    def task(self, description: str, total: int | None = None) -> Iterator[Advance]:
        task_id: TaskID = self._progress.add_task(description, total=total)

        def advance(units: int) -> None:
            self._progress.advance(task_id, units)

        try:
            yield advance
        finally:
            if total is None:
                self._progress.update(task_id, total=1, completed=1)
            else:
                self._progress.update(task_id, completed=total)
