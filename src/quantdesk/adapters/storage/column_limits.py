"""The last check before a row is written: it fits its columns on SQLite as on PostgreSQL.

The domain already bounds what users write (domain/text.py, domain/numbers.py); this catches
whatever reached a store some other way. PostgreSQL refuses a ``VARCHAR(n)`` overflow, a NUL
in any text and an ``INTEGER`` past 32 bits; SQLite stores all three. Checking every pending
row against the table's own column types before each flush makes both refuse them alike,
with an error that names the column instead of a driver's ``DataError``.
"""

import re

from sqlalchemy import BigInteger, Integer
from sqlalchemy.orm import Session

from quantdesk.domain.errors import InvalidInputError

_INT_RANGE = {
    "big": (-(2**63), 2**63 - 1),
    "int": (-(2**31), 2**31 - 1),
}
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")  # NUL; lone surrogates are not UTF-8


def check_pending(session: Session, *_: object) -> None:
    """A ``before_flush`` listener: every new or changed row must fit its columns."""
    for row in (*session.new, *session.dirty):
        check_row(row)


def check_row(row: object) -> None:
    table = getattr(row, "__table__", None)
    if table is None:
        return
    for column in table.columns:
        value = getattr(row, column.key, None)
        where = f"{table.name}.{column.name}"
        if isinstance(value, str):
            _check_text(where, value, getattr(column.type, "length", None))
        elif isinstance(value, int) and isinstance(column.type, Integer):
            low, high = _INT_RANGE["big" if isinstance(column.type, BigInteger) else "int"]
            if not low <= value <= high:
                raise InvalidInputError(
                    f"{where}: {_digits(value)} is outside the column's range {low}..{high}"
                )


def _check_text(where: str, value: str, length: int | None) -> None:
    if length is not None and len(value) > length:
        raise InvalidInputError(
            f"{where}: {len(value)} characters is too long; at most {length}",
            hint="shorten the value",
        )
    bad = _UNSTORABLE.search(value)
    if bad is not None:
        raise InvalidInputError(
            f"{where}: the character {bad.group()!r} at position {bad.start()} cannot be stored",
            hint="remove control characters from the value",
        )


def _digits(value: int) -> str:
    return str(value) if value.bit_length() < 200 else f"a {value.bit_length()}-bit integer"
