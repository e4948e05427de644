"""Connection strings of a source database: the form libpq reads, the form lineage and errors
may show (never the password), and a driver's error as one line without the password."""

from urllib.parse import quote

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo


def libpq_dsn(dsn: str) -> str:
    """A connection string libpq reads: SQLAlchemy's ``postgresql+psycopg://`` form (as our
    own database URL is written) without its driver."""
    scheme, sep, rest = dsn.partition("://")
    if sep and scheme.split("+", 1)[0] in ("postgresql", "postgres"):
        return f"postgresql://{rest}"
    return dsn


def redacted(dsn: str) -> str:
    """The connection string without its password (what lineage and errors may show)."""
    try:
        parts = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "(an unreadable connection string)"
    return make_conninfo(**{k: str(v) for k, v in parts.items() if k != "password"})


def reason(dsn: str, error: BaseException) -> str:
    """The driver's first line, never with the password in it: libpq quotes the part of a
    URL it cannot parse, which may be the password itself."""
    try:
        password = conninfo_to_dict(dsn).get("password")
    except psycopg.ProgrammingError:
        return "the connection string cannot be parsed (check its syntax and percent-encoding)"
    text = _first_line(error)
    if password:
        for form in sorted({str(password), quote(str(password), safe="")}, key=len, reverse=True):
            text = text.replace(form, "***")
    return text


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:300] if text else type(error).__name__
