"""JSON-lines files read line by line as bytes, each line judged on its own.

A file is never decoded whole: one line of bad UTF-8, one line nested 100,000 deep or one
of a million bytes is that line's problem, and the other lines are read as if it were not
there. A line over the limit is skipped without being held in memory or parsed.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from quantdesk.domain.documents import (
    DEFAULT_LIMITS,
    DocumentLimitError,
    DocumentLimits,
    loads_json_line,
)

_BOM = b"\xef\xbb\xbf"
_CHUNK = 1 << 16
SHOWN_CHARS = 200
"""Characters of a bad line kept in its reject: enough to find it, never the whole line."""


@dataclass(frozen=True)
class JsonLine:
    """One non-blank line: its value, or the ``DocumentLimitError`` saying why it has none.

    ``text`` is the line as read; for a bad line, as shown in a reject: bytes that are not
    UTF-8 escaped, and of a line over the limit only its first ``SHOWN_CHARS`` characters.
    """

    number: int
    text: str
    value: Any = None
    error: DocumentLimitError | None = None


def read_json_lines(path: Path, limits: DocumentLimits = DEFAULT_LIMITS) -> Iterator[JsonLine]:
    """Every non-blank line of ``path`` (``OSError`` if it cannot be opened or read)."""
    with path.open("rb") as handle:
        yield from json_lines(handle, limits)


def json_lines(handle: BinaryIO, limits: DocumentLimits = DEFAULT_LIMITS) -> Iterator[JsonLine]:
    for number, line, length in _lines(handle, limits.max_line_bytes):
        if number == 1:
            line = line.removeprefix(_BOM)
        if not line.strip():
            continue
        if length > limits.max_line_bytes:
            error = _too_long(number, length, limits)
            yield JsonLine(number, shown_text(line)[:SHOWN_CHARS], error=error)
            continue
        try:
            value = loads_json_line(line.strip(), number, limits)
        except DocumentLimitError as error:
            yield JsonLine(number, shown_text(line), error=error)
        else:
            yield JsonLine(number, line.strip().decode("utf-8"), value)


def shown_text(line: bytes) -> str:
    """The line for a person: UTF-8 where it is, ``\\xff`` escapes where it is not."""
    return line.decode("utf-8", "backslashreplace").strip()


def _lines(handle: BinaryIO, max_bytes: int) -> Iterator[tuple[int, bytes, int]]:
    """(number, the line without its end, the content's length); at most a limit in memory.

    A line longer than ``max_bytes`` comes back as its first bytes, the rest skipped unread.
    """
    number = 0
    while True:
        line = handle.readline(max_bytes + 2)  # room for the content and "\r\n"
        if not line:
            return
        number += 1
        if line.endswith(b"\n") or len(line) < max_bytes + 2:
            content = line.rstrip(b"\r\n")
            yield number, content, len(content)
            continue
        length = len(line)
        while rest := handle.readline(_CHUNK):
            if rest.endswith(b"\n"):
                length += len(rest.rstrip(b"\r\n"))
                break
            length += len(rest)
        yield number, line, length


def _too_long(number: int, length: int, limits: DocumentLimits) -> DocumentLimitError:
    return DocumentLimitError(
        f"line {number} has {length} bytes, over the limit of {limits.max_line_bytes}: not parsed",
        reason="line_too_long",
        line=number,
    )
