"""What text the desk accepts: identifiers matched whole, names and free text kept printable.

Every limit here is the registry's column limit (adapters/storage/tables.py), so SQLite and
PostgreSQL accept exactly the same values: PostgreSQL refuses an over-long ``VARCHAR`` and any
NUL, SQLite neither. Checking in the domain means neither database ever sees such a value.
Identifier patterns are applied with ``fullmatch``: with ``re.match`` a ``$`` also matches
before a trailing newline, and ``"trend-btc\\n"`` would be a second strategy that prints as
``trend-btc``.
"""

import re

from quantdesk.domain.errors import InvalidInputError

ACTOR_MAX_LENGTH = 200
"""author/actor columns: ``String(200)``."""
NAME_MAX_LENGTH = 200
"""a strategy's display name: ``String(200)``."""
REASON_MAX_LENGTH = 2000
"""why a version exists or was deprecated (``Text``, bounded here all the same)."""
DESCRIPTION_MAX_LENGTH = 10_000
LABEL_MAX_LENGTH = 200
"""producer, model and version names carried by signals and kill switches."""
SHOWN_MAX_LENGTH = 60
"""How much of a refused value a message echoes."""

# Control characters (C0, DEL, C1), lone surrogates (not encodable as UTF-8, so no database
# stores them); in a name also line and paragraph separators and the invisible format
# characters (zero-width, bidirectional overrides, byte-order mark) that make two names look
# alike.
_NOT_IN_A_LINE = re.compile(
    r"[\x00-\x1f\x7f-\x9f\ud800-\udfff\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]"
)
_NOT_IN_TEXT = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")  # \t and \n pass


def shown(value: object, limit: int = SHOWN_MAX_LENGTH) -> str:
    """``repr(value)`` for a message, cut short: a refused megabyte is never echoed back."""
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]!r}... ({len(value)} characters)"
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def is_whole_match(pattern: re.Pattern[str], value: str) -> bool:
    """The pattern covers all of ``value`` (no trailing newline slips past a ``$``)."""
    return pattern.fullmatch(value) is not None


def single_line(value: str) -> str:
    """A name or label: no control character, line break or surrogate, no padding spaces.

    Raises ``ValueError`` (for pydantic validators) naming the first bad character.
    """
    bad = _NOT_IN_A_LINE.search(value)
    if bad is not None:
        raise ValueError(
            f"{shown(value)} contains the character {bad.group()!r} at position "
            f"{bad.start()}; names are one line of visible text"
        )
    if value != value.strip():
        raise ValueError(f"{shown(value)} starts or ends with whitespace")
    return value


def free_text(value: str) -> str:
    """A reason or description: any printable text, with tabs and newlines allowed."""
    bad = _NOT_IN_TEXT.search(value)
    if bad is not None:
        raise ValueError(
            f"text contains the control character {bad.group()!r} at position {bad.start()}; "
            "only printable characters, tabs and newlines are allowed"
        )
    return value


def validate_actor(name: str) -> str:
    """Who makes a change (author, actor): trimmed, 1-200 printable characters on one line."""
    name = name.strip()
    if not name:
        raise InvalidInputError(
            "an author/actor is required", hint="name the person or service making the change"
        )
    if len(name) > ACTOR_MAX_LENGTH:
        raise InvalidInputError(
            f"author/actor {shown(name)} is too long: at most {ACTOR_MAX_LENGTH} characters",
            hint="use a user name or a service name",
        )
    try:
        return single_line(name)
    except ValueError as error:
        raise InvalidInputError(f"author/actor {error}", hint="use plain text") from None


def validate_reason(reason: str, what: str = "reason") -> str:
    """A reason as the registry stores it: free text of at most ``REASON_MAX_LENGTH``."""
    if len(reason) > REASON_MAX_LENGTH:
        raise InvalidInputError(
            f"{what} is too long: {len(reason)} characters, at most {REASON_MAX_LENGTH}",
            hint="keep it to a few sentences",
        )
    try:
        return free_text(reason)
    except ValueError as error:
        raise InvalidInputError(f"{what}: {error}") from None
