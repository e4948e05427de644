"""``PluginInspector`` in a child process: a plug-in's first import never happens in ours.

The child is ``python -I -m quantdesk.adapters.nautilus.plugin_check``: isolated mode, so
neither the working directory nor ``PYTHON*`` variables reach its import path; the plug-in
directories from settings are passed explicitly as arguments. It runs in a session of its
own, bounded in time (the whole process group is killed when it is over) and in what it may
answer (bounded bytes read back from a file, never a pipe left to fill).
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from quantdesk.services.ports.plugins import PluginClass, PluginFinding

_CHILD = "quantdesk.adapters.nautilus.plugin_check"
_MAX_ANSWER_BYTES = 256 * 1024
_MAX_STDERR_CHARS = 300


class SubprocessPluginInspector:
    """Imports plug-ins in ``python -I`` children with ``search_paths`` after site-packages."""

    def __init__(self, search_paths: Sequence[Path] = (), *, timeout_seconds: float = 60.0) -> None:
        self._paths = [str(path) for path in search_paths]
        self._timeout = timeout_seconds

    def inspect(self, plugins: Sequence[PluginClass]) -> list[PluginFinding]:
        return self._check(plugins, audit=False)

    def audit(self, plugins: Sequence[PluginClass]) -> list[PluginFinding]:
        """``inspect``, and the strategy must be a QuantdeskStrategy that never bypasses the
        risk gate (a static check of its code in the child: see ``gate_bypass``)."""
        return self._check(plugins, audit=True)

    def _check(self, plugins: Sequence[PluginClass], *, audit: bool) -> list[PluginFinding]:
        if not plugins:
            return []
        argument = json.dumps(
            {
                "paths": self._paths,
                "plugins": [[p.strategy_path, p.config_path] for p in plugins],
                "audit": audit,
            }
        )
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            problem = self._run(argument, out, err)
            if problem is None:
                answer = _read(out, _MAX_ANSWER_BYTES + 1)
                problems = _parse(answer, len(plugins))
                if problems is not None:
                    return [
                        PluginFinding(p, found) for p, found in zip(plugins, problems, strict=True)
                    ]
                problem = "the check process gave no answer" + _tail(err)
        return [PluginFinding(plugin, problem) for plugin in plugins]

    def _run(self, argument: str, out: IO[bytes], err: IO[bytes]) -> str | None:
        """None when the child ended normally; else what went wrong."""
        command = [sys.executable, "-I", "-m", _CHILD, argument]
        # The desk's own settings (secrets among them) are none of a plug-in's business.
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
            return f"the check process could not start: {error.strerror}"
        try:
            code = child.wait(timeout=self._timeout)
        except subprocess.TimeoutExpired:
            code = None
        finally:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.pid, signal.SIGKILL)  # the child and whatever it started
            child.wait()
        if code is None:
            return f"the check did not finish within {self._timeout:g} s (killed)"
        if code != 0:
            return f"the check process ended with exit code {code}" + _tail(err)
        return None


def _read(file: IO[bytes], limit: int) -> bytes:
    file.seek(0)
    return file.read(limit)


def _tail(err: IO[bytes]) -> str:
    text = _read(err, 64 * 1024).decode("utf-8", "replace").strip()
    if not text:
        return ""
    last = text.splitlines()[-1][-_MAX_STDERR_CHARS:]
    return f": {last}"


def _parse(answer: bytes, expected: int) -> list[str | None] | None:
    """The child's findings, or None for anything but exactly the answer it promises."""
    if len(answer) > _MAX_ANSWER_BYTES:
        return None
    try:
        loaded = json.loads(answer)
    except ValueError:
        return None
    findings = loaded.get("findings") if isinstance(loaded, dict) else None
    if not isinstance(findings, list) or len(findings) != expected:
        return None
    if not all(f is None or isinstance(f, str) for f in findings):
        return None
    return [None if f is None else f[:1000] for f in findings]
