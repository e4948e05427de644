"""Where an unforeseen failure goes: the whole story in a log file, one line for the user.

A user never sees a traceback; whoever fixes the bug needs it. The log entry carries a
correlation id that the one line printed to stderr repeats, so a report and its traceback
can be matched. Secrets stay out of it: values of secret-looking options and passwords in
URLs are masked, in the command line and in the traceback text alike.
"""

import os
import re
import sys
import tempfile
import traceback
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import quantdesk

LOG_NAME = "quantdesk-errors.log"
MAX_LOG_BYTES = 5_000_000  # then the old log becomes .1: a crash loop cannot fill the disk
MASK = "***"
_SECRET_OPTION = re.compile(
    r"^--?[\w-]*(key|secret|token|passw|pwd|credential|auth(?!or)|url|dsn)[\w-]*$", re.IGNORECASE
)
_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+@", re.IGNORECASE)
_MESSAGE_CHARS = 160
# Per user: the temp directory is shared, another user's directory is not ours to write.
_TEMP_DIR = f"quantdesk-logs-{os.getuid()}" if hasattr(os, "getuid") else "quantdesk-logs"


@dataclass(frozen=True)
class CrashReport:
    """What the user is told: the id to quote and the file that holds the traceback."""

    correlation_id: str
    log_path: Path | None  # None: no place could be written
    fallback: bool  # the home was unusable, the log went to the temp directory

    def line(self, error: BaseException) -> str:
        where = (
            f"Please report it with the log file {self.log_path}"
            if self.log_path is not None
            else "The log file could not be written; please report the command you ran"
        )
        if self.fallback:
            where += " (the home could not hold the log)"
        return (
            f"error: unexpected failure (correlation id {self.correlation_id}): "
            f"{_summary(error)}. {where}"
        )


def write_crash_report(error: BaseException, home: Path, argv: Sequence[str]) -> CrashReport:
    """Append the traceback to ``home/logs``, or to the temp directory if the home refuses."""
    correlation_id = uuid.uuid4().hex[:12]
    entry = _entry(error, correlation_id, argv)
    for directory, fallback in (
        (home / "logs", False),
        (Path(tempfile.gettempdir()) / _TEMP_DIR, True),
    ):
        try:
            path = _append(directory, entry)
        except OSError:
            continue
        return CrashReport(correlation_id, path, fallback)
    return CrashReport(correlation_id, None, True)


def masked_argv(argv: Sequence[str]) -> list[str]:
    """The command line with the values of secret-looking options and URL passwords masked."""
    masked: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            masked.append(MASK)
            hide_next = False
            continue
        name, equals, _ = arg.partition("=")
        if _SECRET_OPTION.match(name):
            if equals:
                masked.append(f"{name}={MASK}")
            else:
                masked.append(arg)
                hide_next = True
            continue
        masked.append(mask_url_passwords(arg))
    return masked


def mask_url_passwords(text: str) -> str:
    """``postgresql://user:secret@host`` becomes ``postgresql://user:***@host``."""
    return _URL_PASSWORD.sub(lambda m: f"{m['head']}{MASK}@", text)


def _summary(error: BaseException) -> str:
    """The type and a short, single-line, masked message: enough to recognise the failure."""
    text = " ".join(mask_url_passwords(str(error)).split())
    text = "".join(c if c.isprintable() else "?" for c in text)
    if len(text) > _MESSAGE_CHARS:
        text = text[: _MESSAGE_CHARS - 1] + "…"
    name = type(error).__name__
    return f"{name}: {text}" if text else name


def _entry(error: BaseException, correlation_id: str, argv: Sequence[str]) -> str:
    stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    trace = "".join(traceback.format_exception(error))
    return (
        f"=== {stamp} correlation id {correlation_id}\n"
        f"command: {' '.join(masked_argv(argv))}\n"
        f"quantdesk {quantdesk.__version__}, Python {sys.version.split()[0]}, {sys.platform}\n"
        f"{mask_url_passwords(trace)}\n"
    )


def _append(directory: Path, entry: str) -> Path:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / LOG_NAME
    try:
        if path.stat().st_size > MAX_LOG_BYTES:
            path.replace(path.with_name(LOG_NAME + ".1"))
    except FileNotFoundError:
        pass
    # Owner-only: a traceback can show paths and values of the user's own data.
    descriptor = os.open(path, _FLAGS, 0o600)
    with os.fdopen(descriptor, "a", encoding="utf-8", errors="replace") as handle:
        handle.write(entry)
    return path.resolve()
