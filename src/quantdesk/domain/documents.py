"""Bounds on any document a user hands us, and a JSON reader that keeps within them.

A document (a definition file, a JSON line of a signal file, a bus record) is hostile until
read: Python's own ``json`` happily builds a 100,000-deep list until the interpreter's
recursion limit raises, converts a 4,300-digit integer until ``int()`` raises, and accepts
``NaN``. Here every such case is a ``DocumentLimitError`` with a ``reason`` code, so callers
reject one line or one file with a clear message instead of an exception escaping.
"""

import json
import math
from dataclasses import dataclass, fields
from typing import Any

from quantdesk.domain.errors import InvalidInputError

LIMIT_REASONS = (
    "too_large",
    "nesting_too_deep",
    "too_many_nodes",
    "too_many_aliases",
    "number_too_long",
    "string_too_long",
    "duplicate_key",
    "not_json",
    "not_utf8",
    "line_too_long",
)
"""Every ``DocumentLimitError.reason``, so callers and tests can rely on the codes."""


@dataclass(frozen=True)
class DocumentLimits:
    """How big, deep and repetitive one document may be; every bound must be positive.

    - ``max_bytes``: the whole document, checked before any parsing, so memory is bounded.
    - ``max_line_bytes``: one line of a line-oriented file (JSON lines), checked before the
      line is parsed, so one huge line costs nothing and the rest of the file is kept.
    - ``max_depth``: containers (mappings, lists) nested inside one another; parsers and
      every later walk over the data recurse, and real documents are shallow.
    - ``max_nodes``: values in the document, so a small text cannot expand into a huge
      structure (YAML aliases, many tiny items).
    - ``max_aliases``: YAML alias uses, the lever of "billion laughs" expansion.
    - ``max_number_chars``: characters of one number; converting a long digit string is
      quadratic and Python refuses integers of 4,300+ digits with a bare ``ValueError``.
    - ``max_string_chars``: characters of one string (keys included), so no single value
      dominates memory or later messages.
    """

    max_bytes: int = 1_000_000
    max_line_bytes: int = 65_536
    max_depth: int = 32
    max_nodes: int = 100_000
    max_aliases: int = 100
    max_number_chars: int = 100
    max_string_chars: int = 100_000

    def __post_init__(self) -> None:
        for spec in fields(self):
            value = getattr(self, spec.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"DocumentLimits.{spec.name} must be a positive integer, got {value!r}"
                )


DEFAULT_LIMITS = DocumentLimits()


class DocumentLimitError(InvalidInputError):
    """A document crosses a bound or is not the format it claims; ``reason`` says which.

    ``reason`` is one of ``LIMIT_REASONS``; ``line`` is the 1-based line when known.
    """

    def __init__(
        self, message: str, *, reason: str, line: int | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.reason = reason
        self.line = line


def loads_json(text: str | bytes, limits: DocumentLimits = DEFAULT_LIMITS) -> Any:
    """The value of the JSON document ``text``, or a ``DocumentLimitError`` saying why not.

    The size is checked before parsing; numbers, constants and keys are checked while
    parsing; depth, node count and string lengths by one iterative walk afterwards (the
    parser's own recursion is capped by the interpreter, which is caught too).
    """
    _check_size(text, limits)
    try:
        value = json.loads(
            _decoded(text),
            parse_int=lambda s: _number(s, int, limits),
            parse_float=lambda s: _number(s, float, limits),
            parse_constant=_refuse_constant,
            object_pairs_hook=_unique_object,
        )
    except json.JSONDecodeError as exc:
        raise DocumentLimitError(
            f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            reason="not_json",
            line=exc.lineno,
        ) from None
    except RecursionError:
        raise DocumentLimitError(
            f"the document nests deeper than {limits.max_depth} levels",
            reason="nesting_too_deep",
        ) from None
    check_shape(value, limits)
    return value


def loads_json_line(line: bytes, number: int, limits: DocumentLimits = DEFAULT_LIMITS) -> Any:
    """The value of one JSON line (``number`` counts from 1), judged alone.

    A line longer than ``max_line_bytes`` is refused unparsed (``line_too_long``), a line that
    is not UTF-8 is ``not_utf8``; every error carries ``line=number``, so a file reader
    rejects that line and keeps the others.
    """
    if len(line) > limits.max_line_bytes:
        raise DocumentLimitError(
            f"line {number} has {len(line)} bytes, more than {limits.max_line_bytes}: not parsed",
            reason="line_too_long",
            line=number,
        )
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DocumentLimitError(
            f"line {number} is not UTF-8 text: bytes {line[exc.start : exc.start + 8]!r}"
            f" at offset {exc.start}",
            reason="not_utf8",
            line=number,
        ) from None
    try:
        return loads_json(text, limits)
    except DocumentLimitError as error:
        raise DocumentLimitError(
            error.message, reason=error.reason, line=number, hint=error.hint
        ) from None


def _decoded(text: str | bytes) -> str:
    if isinstance(text, str):
        return text
    try:
        return text.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = text[exc.start : exc.start + 4]
        raise DocumentLimitError(
            f"not JSON: not UTF-8 text (bytes {bad!r} at offset {exc.start})",
            reason="not_json",
            line=text.count(b"\n", 0, exc.start) + 1,
        ) from None


def _check_size(text: str | bytes, limits: DocumentLimits) -> None:
    size = len(text)
    if isinstance(text, str) and size <= limits.max_bytes:
        size = len(text.encode("utf-8", "surrogatepass"))
    if size > limits.max_bytes:
        raise DocumentLimitError(
            f"the document is larger than {limits.max_bytes} bytes",
            reason="too_large",
        )


def _number(text: str, kind: type[int] | type[float], limits: DocumentLimits) -> int | float:
    if len(text) > limits.max_number_chars:
        raise _long_number(text, limits)
    try:
        number = kind(text)
    except ValueError:  # int() refuses 4,300+ digits even when the limit allows them
        raise _long_number(text, limits) from None
    if isinstance(number, float) and not math.isfinite(number):  # 1e999 would read as inf
        raise DocumentLimitError(
            f"the number {text[:20]} is not a finite number", reason="number_too_long"
        )
    return number


def _long_number(text: str, limits: DocumentLimits) -> DocumentLimitError:
    return DocumentLimitError(
        f"a number of {len(text)} characters ({text[:20]}...) is longer than"
        f" {limits.max_number_chars} characters",
        reason="number_too_long",
    )


def _refuse_constant(name: str) -> Any:
    raise DocumentLimitError(
        f"not JSON: {name} is not a JSON number",
        reason="not_json",
        hint="write null or a finite number",
    )


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, item in pairs:
        if key in result:
            raise DocumentLimitError(
                f"duplicate key {_short(key)} in one object: which value is meant is ambiguous",
                reason="duplicate_key",
            )
        result[key] = item
    return result


def check_shape(value: Any, limits: DocumentLimits) -> None:
    """Refuses ``value`` (already built) if it is too deep, has too many values or too long
    a string; walked without recursion, so it is safe on any depth."""
    nodes = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        nodes += 1
        if nodes > limits.max_nodes:
            raise DocumentLimitError(
                f"the document has more than {limits.max_nodes} values", reason="too_many_nodes"
            )
        if isinstance(item, str):
            _check_string(item, limits)
        elif isinstance(item, dict | list):
            if depth + 1 > limits.max_depth:
                raise DocumentLimitError(
                    f"the document nests deeper than {limits.max_depth} levels",
                    reason="nesting_too_deep",
                )
            if isinstance(item, dict):
                for key in item:
                    _check_string(key, limits)
                stack.extend((child, depth + 1) for child in item.values())
            else:
                stack.extend((child, depth + 1) for child in item)


def _check_string(text: str, limits: DocumentLimits) -> None:
    if len(text) > limits.max_string_chars:
        raise DocumentLimitError(
            f"a string of {len(text)} characters ({_short(text)}) is longer than"
            f" {limits.max_string_chars} characters",
            reason="string_too_long",
        )


def _short(text: str) -> str:
    return repr(text) if len(text) <= 40 else repr(text[:40]) + "..."
