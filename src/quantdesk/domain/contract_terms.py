"""The terms of a dated contract (a future, an option, a crypto future) as the desk writes them.

A contract's activation and expiration are integer nanoseconds UTC like every timestamp of the
desk; a definition file may write them as ISO-8601 text with an explicit zone
(``2024-03-15T13:30:00Z``, ``2024-03-15T09:30:00-04:00``), never as a bare date or a local
time: an expiry off by a time zone would settle a position hours early or late.
"""

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BeforeValidator, Field

from quantdesk.domain.text import shown
from quantdesk.domain.time import TS_MAX_NS, TS_MIN_NS


class OptionKind(StrEnum):
    CALL = "call"
    PUT = "put"


class ExerciseStyle(StrEnum):
    """European: at expiry only. American: any time; quantdesk prices both with the European
    formulas and the engine exercises at expiry only, so early exercise is not simulated."""

    EUROPEAN = "european"
    AMERICAN = "american"


class UnderlyingClass(StrEnum):
    """What a future or an option is ultimately on (the engine's asset class of the contract)."""

    EQUITY = "equity"
    INDEX = "index"
    FX = "fx"
    COMMODITY = "commodity"
    RATES = "rates"
    CRYPTO = "crypto"


def contract_time(value: object) -> object:
    """Integer nanoseconds, or ISO-8601 text with a zone, as integer nanoseconds UTC."""
    if isinstance(value, bool | float):
        raise ValueError("must be integer nanoseconds UTC or ISO-8601 text with a zone")
    if isinstance(value, datetime):  # YAML reads an unquoted timestamp as one
        when = value
    elif isinstance(value, date):
        raise ValueError(_NOT_AN_INSTANT.format(shown(value.isoformat())))
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())  # integer ns given as text (a CLI flag): range-checked next
    elif isinstance(value, str):
        try:
            when = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(
                f"{shown(value)} is not an ISO-8601 time (e.g. 2024-03-15T13:30:00Z)"
            ) from None
        if "T" not in value.upper() and " " not in value.strip():
            raise ValueError(_NOT_AN_INSTANT.format(shown(value)))
    else:
        return value
    if when.tzinfo is None:
        raise ValueError(_NOT_AN_INSTANT.format(shown(str(when))))
    delta = when - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NOT_AN_INSTANT = (
    "{} has no time of day and zone: write e.g. 2024-03-15T13:30:00Z "
    "(a contract's expiry is an instant, not a date or a local time)"
)


ContractTime = Annotated[
    int,
    BeforeValidator(contract_time),
    Field(ge=TS_MIN_NS, le=TS_MAX_NS, description="ns UTC, or ISO-8601 text with a zone"),
]
