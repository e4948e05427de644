"""``SmokeRunner`` in a child process: a short real backtest of one definition, bounded.

The child (``smoke_child``) runs ``python -I`` in a session of its own; at the time limit its
whole process group is killed, so a plug-in that loops forever, sleeps or forks cannot hang
the desk. The desk's ``QUANTDESK_*`` settings are not passed on (the child is told the
catalog and the plug-in places explicitly); the answer is read back bounded from a file.
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.services.ports.compatibility import SmokeOutcome, SmokeWindow

_CHILD = "quantdesk.adapters.nautilus.smoke_child"
_MAX_ANSWER_BYTES = 64 * 1024


class SubprocessSmokeRunner:
    """Runs each smoke backtest in a fresh ``python -I`` child killed at the window's limit."""

    def __init__(
        self,
        catalog_dir: Path,
        *,
        search_paths: Sequence[Path] = (),
        packages: Sequence[str] = (),
        entry_points: Callable[[], Sequence[str]] = tuple,
    ) -> None:
        self._catalog = catalog_dir
        self._paths = [str(p) for p in search_paths]
        self._packages = list(packages)
        self._entry_points = entry_points

    def run(self, definition: StrategyDefinition, window: SmokeWindow) -> SmokeOutcome:
        argument = json.dumps(
            {
                "catalog": str(self._catalog),
                "paths": self._paths,
                "packages": self._packages,
                "entry_points": list(self._entry_points()),
                "definition": definition.model_dump(mode="json"),
                "bars": window.bars,
                "signals": window.replay_signals,
            }
        )
        started = time.monotonic()
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            problem = _run_child(argument, out, err, window.seconds)
            seconds = time.monotonic() - started
            if problem is not None:
                return SmokeOutcome(problem, seconds)
            out.seek(0)
            try:
                answer = json.loads(out.read(_MAX_ANSWER_BYTES))
                found = answer["problem"]
                fills = int(answer.get("fills", 0))
            except (ValueError, KeyError, TypeError):
                return SmokeOutcome("the smoke backtest gave no answer" + _tail(err), seconds)
            return SmokeOutcome(None if found is None else str(found), seconds, fills)


def _run_child(argument: str, out: IO[bytes], err: IO[bytes], limit: float) -> str | None:
    """None when the child ended normally; else what went wrong."""
    command = [sys.executable, "-I", "-m", _CHILD, argument]
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANTDESK_")}
    try:
        child = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=env,
            start_new_session=True,
        )
    except OSError as error:
        return f"the smoke backtest could not start: {error.strerror}"
    try:
        code = child.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        code = None
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGKILL)  # the child and whatever it started
        child.wait()
    if code is None:
        return f"the smoke backtest did not finish within {limit:g} s (killed)"
    if code != 0:
        return f"the smoke backtest ended with exit code {code}" + _tail(err)
    return None


def _tail(err: IO[bytes]) -> str:
    err.seek(0)
    text = err.read(64 * 1024).decode("utf-8", "replace").strip()
    return f": {text.splitlines()[-1][-300:]}" if text else ""
