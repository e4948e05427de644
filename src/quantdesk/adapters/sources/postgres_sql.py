"""Pieces of the PostgreSQL reader's SQL: the mapped table's name, a filter's condition, and
the placeholders of a query's parameters. Names are quoted identifiers, values parameters:
nothing of a mapping is ever spliced into the text."""

from collections.abc import Callable
from itertools import count

from psycopg import sql

from quantdesk.domain.source_mapping import Filter

_OPS = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}

Mark = Callable[[], sql.Composable]
"""The next parameter's placeholder (libpq's ``$1``, ``$2``...)."""


def split_name(table: str) -> tuple[str | None, str]:
    """``schema.table`` as (schema or None, table)."""
    schema, _dot, name = table.rpartition(".")
    return (schema or None), name


def table_name(table: str) -> sql.Identifier:
    schema, name = split_name(table)
    return sql.Identifier(schema, name) if schema else sql.Identifier(name)


def condition(item: Filter, mark: sql.Composable, sql_type: str | None) -> sql.Composed:
    """The filter's condition. A text value is cast to the column's type on the server, as
    an untyped literal would be (``date >= '2024-01-01'``, an enum): the driver binds it
    as ``text``, which compares with no other type."""
    column = sql.Identifier(item.column)
    values = item.value if isinstance(item.value, list) else [item.value]
    if sql_type is not None and any(isinstance(v, str) for v in values):
        wanted = sql_type + ("[]" if item.op == "in" else "")
        # the server's own text, cast once (a sub-select) and no sub-query to ANY()
        mark = sql.SQL("(SELECT CAST({0} AS {1}))::{1}").format(mark, sql.SQL(wanted))
    if item.op == "in":
        return sql.SQL("{} = ANY({})").format(column, mark)
    return sql.SQL("{} " + _OPS[item.op] + " {}").format(column, mark)


def dollars() -> Mark:
    """Placeholders numbered from ``$1``."""
    numbers = count(1)
    return lambda: sql.SQL(f"${next(numbers)}")
