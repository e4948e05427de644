"""``TableSource`` on PostgreSQL with psycopg 3: a server-side cursor, ``chunk_rows`` at a time.

Every name of the mapping is quoted as an identifier (``psycopg.sql.Identifier``), never
spliced; filter values and the watermark travel as parameters. The read runs in one
read-only transaction (REPEATABLE READ) so its chunks see one snapshot of the table, and
nothing is written to the source: the migration never touches a table it was not given
(and not even that one).
"""

from collections.abc import Iterator, Sequence

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from quantdesk.domain.errors import SourceReadError
from quantdesk.domain.source_mapping import Filter, SourceMapping
from quantdesk.services.ports.table_sources import Cell, SourceChunk, Watermark

_OPS = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_CONNECT_TIMEOUT_S = 10
_HINT = "check the source URL, that the server is up and that the user may read the table"


class PostgresTableSource:
    def __init__(self, dsn: str) -> None:
        self._dsn = dsn

    def describe(self) -> str:
        return redacted(self._dsn)

    def missing_columns(self, mapping: SourceMapping) -> Sequence[str]:
        schema, table = _split(mapping.table)
        query = (
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s AND "
            "table_schema = COALESCE(%s, current_schema())"
        )
        with self._connect() as connection:
            rows = connection.execute(query, (table, schema)).fetchall()
        present = {row[0] for row in rows}
        wanted = mapping.selected() + [f.column for f in mapping.filters]
        return sorted({c for c in wanted if c not in present})

    def chunks(
        self, mapping: SourceMapping, after: Watermark | None = None
    ) -> Iterator[SourceChunk]:
        columns = mapping.selected()
        query, parameters = _query(mapping, columns, after)
        first_row = 1
        with self._connect() as connection:
            connection.read_only = True
            connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            with connection.transaction(), connection.cursor(name="quantdesk_source") as cursor:
                cursor.itersize = mapping.chunk_rows
                try:
                    cursor.execute(query, parameters)
                    while rows := cursor.fetchmany(mapping.chunk_rows):
                        yield _chunk(mapping, columns, rows, first_row)
                        first_row += len(rows)
                except psycopg.Error as error:
                    raise _unreadable(self._dsn, mapping, error) from error

    def _connect(self) -> psycopg.Connection[tuple[Cell, ...]]:
        try:
            return psycopg.connect(self._dsn, connect_timeout=_CONNECT_TIMEOUT_S)
        except psycopg.Error as error:
            raise SourceReadError(
                f"cannot connect to {redacted(self._dsn)}: {_first_line(error)}", hint=_HINT
            ) from error


def redacted(dsn: str) -> str:
    """The connection string without its password (what lineage and errors may show)."""
    try:
        parts = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "(an unreadable connection string)"
    return make_conninfo(**{k: str(v) for k, v in parts.items() if k != "password"})


def _split(table: str) -> tuple[str | None, str]:
    schema, _dot, name = table.rpartition(".")
    return (schema or None), name


def _query(
    mapping: SourceMapping, columns: list[str], after: Watermark | None
) -> tuple[sql.Composed, list[object]]:
    schema, table = _split(mapping.table)
    source = sql.Identifier(schema, table) if schema else sql.Identifier(table)
    order = [sql.Identifier(mapping.timestamp.column)]
    if mapping.key is not None:
        order.append(sql.Identifier(mapping.key))
    conditions: list[sql.Composable] = []
    parameters: list[object] = []
    for item in mapping.filters:
        conditions.append(_condition(item))
        parameters.append(item.value)
    if after is not None:
        if mapping.key is None:
            conditions.append(sql.SQL("{} > %s").format(order[0]))
            parameters.append(after.timestamp)
        else:
            conditions.append(sql.SQL("({}, {}) > (%s, %s)").format(*order))
            parameters.extend([after.timestamp, after.key])
    where = sql.SQL(" WHERE ") + sql.SQL(" AND ").join(conditions) if conditions else sql.SQL("")
    query = sql.SQL("SELECT {columns} FROM {source}{where} ORDER BY {order}").format(
        columns=sql.SQL(", ").join(sql.Identifier(c) for c in columns),
        source=source,
        where=where,
        order=sql.SQL(", ").join(order),
    )
    return query, parameters


def _condition(item: Filter) -> sql.Composed:
    column = sql.Identifier(item.column)
    if item.op == "in":
        return sql.SQL("{} = ANY(%s)").format(column)
    return sql.SQL("{} " + _OPS[item.op] + " %s").format(column)


def _chunk(
    mapping: SourceMapping, columns: list[str], rows: list[tuple[Cell, ...]], first_row: int
) -> SourceChunk:
    by_column = {name: [row[i] for row in rows] for i, name in enumerate(columns)}
    last = rows[-1]
    key = None if mapping.key is None else last[columns.index(mapping.key)]
    stamp = last[columns.index(mapping.timestamp.column)]
    return SourceChunk(columns=by_column, first_row=first_row, last=Watermark(stamp, key))


def _unreadable(dsn: str, mapping: SourceMapping, error: psycopg.Error) -> SourceReadError:
    return SourceReadError(
        f"{redacted(dsn)}: reading {mapping.table} failed: {_first_line(error)}", hint=_HINT
    )


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:300] if text else type(error).__name__
