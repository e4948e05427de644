"""``TableSource`` on PostgreSQL: one snapshot (exported by psycopg 3), read by ADBC as Arrow.

Every name of the mapping is quoted as an identifier (``psycopg.sql.Identifier``), never
spliced; filter values, the watermark and day bounds travel as parameters. A snapshot is one
read-only REPEATABLE READ transaction in the UTC time zone (the ADBC connection's, joining
the snapshot a psycopg transaction exported), so its counts and chunks see one state of the
table and a SQL date is a UTC date; nothing is ever written to the source (the migration
never touches a table it was not given, and only reads that one).

The server does as little per row as it can, its cost bounding the read: a numeric comes
as its text, made the nearest double on our side, and each row's source day is computed on
our side from its time (``postgres_columns``). A time Arrow would not hold (infinity, BC,
beyond year 9999) comes as NULL beside its text, but only when the snapshot holds one:
whether it does is asked once (the table's first and last time, an index lookup where the
time is indexed), and the answer holds for every read of that snapshot.
"""

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TypedDict

import adbc_driver_manager
import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql
from psycopg.conninfo import make_conninfo

from quantdesk.adapters.sources.postgres_batches import ArrowSession, instants
from quantdesk.adapters.sources.postgres_columns import PER_DAY, doubles, source_days
from quantdesk.adapters.sources.postgres_dsn import libpq_dsn, reason, redacted
from quantdesk.adapters.sources.postgres_sql import condition, dollars, split_name, table_name
from quantdesk.adapters.sources.table_bars import raw_bars
from quantdesk.adapters.sources.table_cells import Cell, SourceChunk
from quantdesk.adapters.sources.table_ticks import raw_ticks
from quantdesk.domain.errors import SourceReadError
from quantdesk.domain.migration import Watermark
from quantdesk.domain.source_mapping import NUMBER_FIELDS, SourceMapping
from quantdesk.services.ports.table_sources import BarChunk, DayWindow, TickChunk

_CONNECT_TIMEOUT_S = 10
_HINT = "check the source URL, that the server is up and that the user may read the table"
_TIME_TYPES = ("timestamp with time zone", "timestamp without time zone")
_INTEGER_TYPES = ("bigint", "integer", "smallint")
_NOT_SCALAR = frozenset(("ARRAY", "json", "jsonb", "bytea", "xml", "tsvector"))
"""information_schema types of a column that holds more than one value per row."""
Row = tuple[Cell, ...]


class _Frame(TypedDict):
    rows: int
    first_row: int
    last: Watermark | None
    days: dict[int, int]


class PostgresTableSource:
    def __init__(self, dsn: str) -> None:
        self._dsn = libpq_dsn(dsn)

    def describe(self) -> str:
        return redacted(self._dsn)

    def problems(self, mapping: SourceMapping) -> Sequence[str]:
        with self._connect() as connection:
            rows = _columns_of(connection, mapping, self._dsn)
        if not rows:
            return [f"there is no table {mapping.table} (or this user may not see it)"]
        nullable = {str(row[0]): row[1] == "YES" for row in rows}
        types = {str(row[0]): str(row[2]) for row in rows}
        wanted = mapping.selected() + [f.column for f in mapping.filters]
        found = [f"{mapping.table} has no column {c}" for c in sorted(set(wanted) - set(nullable))]
        if mapping.key is not None and nullable.get(mapping.key, False):
            found.append(f"the key column {mapping.key} allows NULL: declare it NOT NULL")
        ts, unit = mapping.timestamp.column, mapping.timestamp.unit
        allowed = _TIME_TYPES if unit == "timestamp" else _INTEGER_TYPES
        if ts in types and types[ts] not in allowed:
            found.append(
                f"the timestamp column {ts} is {types[ts]}; unit {unit} reads "
                + ("a SQL timestamp" if unit == "timestamp" else "an integer column")
            )
        for field, column in mapping.fields().items():  # a cell the rules can read: one value
            if field != "timestamp" and types.get(column) in _NOT_SCALAR:
                found.append(
                    f"the {field} column {column} is {types[column]}: it must hold one number "
                    "or name a row (cast it in a view)"
                )
        return found

    @contextmanager
    def snapshot(self, mapping: SourceMapping) -> Iterator["PostgresSnapshot"]:
        session, types = self._joined(mapping)
        try:
            yield PostgresSnapshot(session, mapping, self._dsn, types)
        finally:
            session.close()

    def _joined(self, mapping: SourceMapping) -> tuple[ArrowSession, dict[str, str]]:
        """An ADBC session in the snapshot of a psycopg transaction, and the column types.
        The snapshot, once joined, outlives the transaction that exported it: psycopg's
        ends here, so no transaction stays idle for the length of a run."""
        session: ArrowSession | None = None
        with self._connect() as connection:
            connection.read_only = True
            connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            try:
                with connection.transaction():
                    connection.execute("SET LOCAL TIME ZONE 'UTC'")
                    types = _sql_types(connection, mapping)
                    exported = connection.execute("SELECT pg_export_snapshot()").fetchone()
                    assert exported is not None  # the function returns one row
                    session = self._arrow_session(str(exported[0]))
            except psycopg.Error as error:
                if session is not None:
                    session.close()
                raise _unreadable(self._dsn, mapping, error) from error
        return session, types

    def _arrow_session(self, snapshot_id: str) -> ArrowSession:
        conninfo = make_conninfo(self._dsn, connect_timeout=str(_CONNECT_TIMEOUT_S))
        try:
            return ArrowSession(conninfo, snapshot_id)
        except adbc_driver_manager.Error as error:
            raise SourceReadError(
                f"cannot connect to {redacted(self._dsn)}: {reason(self._dsn, error)}", hint=_HINT
            ) from error

    def _connect(self) -> psycopg.Connection[Row]:
        try:
            return psycopg.connect(self._dsn, connect_timeout=_CONNECT_TIMEOUT_S)
        except psycopg.Error as error:
            raise SourceReadError(
                f"cannot connect to {redacted(self._dsn)}: {reason(self._dsn, error)}", hint=_HINT
            ) from error


class PostgresSnapshot:
    """The ``TableSnapshot`` port inside one open transaction (the ADBC session's)."""

    def __init__(
        self,
        session: ArrowSession,
        mapping: SourceMapping,
        dsn: str,
        types: Mapping[str, str],
    ) -> None:
        self._session = session
        self._types = types
        self._mapping = mapping
        self._dsn = dsn
        self._columns = mapping.selected()
        self._values = {c for f, c in mapping.fields().items() if f in NUMBER_FIELDS}
        self._ts = sql.Identifier(mapping.timestamp.column)
        self._held_everywhere: bool | None = None

    def count(self, after: Watermark | None = None, through: Watermark | None = None) -> int:
        where, parameters = self._where(after, None, through)
        query = sql.SQL("SELECT count(*) FROM {}{}").format(self._table(), where)
        return int(self._run(query, parameters).column(0)[0].as_py())

    def day_counts(self, through: Watermark) -> dict[int, int]:
        where, parameters = self._where(None, None, through)
        query = sql.SQL(
            "SELECT {day} AS day, count(*) AS rows FROM {table}{where} GROUP BY 1"
        ).format(day=self._day_expression(), table=self._table(), where=where)
        counts = self._run(query, parameters).to_pylist()  # no day: a time out of range
        return {int(r["day"]): int(r["rows"]) for r in counts if r["day"] is not None}

    def bar_chunks(
        self,
        after: Watermark | None = None,
        days: DayWindow | None = None,
        through: Watermark | None = None,
    ) -> Iterator[BarChunk]:
        for chunk, frame in self._chunks(after, days, through):
            bars, rejections = raw_bars(chunk, self._mapping)
            yield BarChunk(**frame, rejections=rejections, bars=bars)

    def tick_chunks(
        self,
        after: Watermark | None = None,
        days: DayWindow | None = None,
        through: Watermark | None = None,
    ) -> Iterator[TickChunk]:
        for chunk, frame in self._chunks(after, days, through):
            ticks, rejections = raw_ticks(chunk, self._mapping)
            yield TickChunk(**frame, rejections=rejections, ticks=ticks)

    def _chunks(
        self, after: Watermark | None, days: DayWindow | None, through: Watermark | None
    ) -> Iterator[tuple[SourceChunk, _Frame]]:
        """Each chunk's cells and the rest of its ``TableChunk`` fields but the rejections."""
        query, parameters = self._select(after, days, through)
        at = self._columns.index(self._mapping.timestamp.column)
        first_row = 1
        try:
            size = self._mapping.chunk_rows
            with self._session.rows(query, parameters, size, self._finished) as batches:
                for table in instants(batches, size, at, self._mapping.table):
                    yield self._chunk(table, first_row)
                    first_row += table.num_rows
        except adbc_driver_manager.Error as error:
            raise _unreadable(self._dsn, self._mapping, error) from error

    def query_text(self, after: Watermark | None = None) -> str:
        query, parameters = self._select(after, None, None)
        text = query.as_string(None)
        return f"{text} -- parameters {parameters!r}"[:4_000]

    # --- the SQL ------------------------------------------------------------------------------

    def _table(self) -> sql.Identifier:
        return table_name(self._mapping.table)

    def _where(
        self,
        after: Watermark | None,
        days: DayWindow | None,
        through: Watermark | None,
    ) -> tuple[sql.Composable, list[object]]:
        mark = dollars()
        conditions: list[sql.Composable] = []
        parameters: list[object] = []
        for item in self._mapping.filters:
            conditions.append(condition(item, mark(), self._types.get(item.column)))
            parameters.append(item.value)
        if after is not None:  # rows without a timestamp are read (and rejected) every time
            conditions.append(sql.SQL("({0} > {1} OR {0} IS NULL)").format(self._ts, mark()))
            parameters.append(after.timestamp)
        if through is not None:
            conditions.append(sql.SQL("{} <= {}").format(self._ts, mark()))
            parameters.append(through.timestamp)
        if days is not None:
            conditions.append(sql.SQL("{0} >= {1} AND {0} < {2}").format(self._ts, mark(), mark()))
            parameters.extend(self._day_bounds(days))
        if not conditions:
            return sql.SQL(""), parameters
        return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(conditions), parameters

    def _select(
        self, after: Watermark | None, days: DayWindow | None, through: Watermark | None
    ) -> tuple[sql.Composed, list[object]]:
        """The rows' query as ADBC runs it (placeholders ``$1``...) and its parameters."""
        where, parameters = self._where(after, days, through)
        order: list[sql.Composable] = [sql.SQL("{} NULLS LAST").format(self._ts)]
        if self._mapping.key is not None:
            order.append(sql.Identifier(self._mapping.key))
        columns = [self._cell(c) for c in self._columns]
        # then the text of a time out of range (the source day is added by ``_finished``)
        if self._all_held():
            columns.append(sql.SQL("NULL::text"))
        else:
            columns.append(
                sql.SQL("CASE WHEN NOT {} THEN {}::text END").format(self._held(), self._ts)
            )
        query = sql.SQL("SELECT {columns} FROM {table}{where} ORDER BY {order}").format(
            columns=sql.SQL(", ").join(columns),
            table=self._table(),
            where=where,
            order=sql.SQL(", ").join(order),
        )
        return query, parameters

    def _held(self, column: sql.Composable | None = None) -> sql.Composable:
        """True for a SQL time Python holds (years 1 to 9999: not infinity, not BC)."""
        # infinity is past year 9999 and -infinity before year 1: no isfinite() needed
        return sql.SQL("({0} >= '0001-01-01' AND {0} < '10000-01-01')").format(
            self._ts if column is None else column
        )

    def _all_held(self) -> bool:
        """Whether every time the mapping selects is one Python holds (or NULL): then the
        times are read as they are, with no test per row. Asked once per snapshot (no
        write changes its answer), from the first and the last time."""
        if self._held_everywhere is None:
            held = self._mapping.timestamp.unit != "timestamp"
            if not held:
                where, parameters = self._where(None, None, None)
                first, last = (sql.SQL(f"{f}({{}})").format(self._ts) for f in ("min", "max"))
                query = sql.SQL("SELECT coalesce({} AND {}, true) FROM {}{}").format(
                    self._held(first), self._held(last), self._table(), where
                )
                held = bool(self._run(query, parameters).column(0)[0].as_py())
            self._held_everywhere = held
        return self._held_everywhere

    def _cell(self, column: str) -> sql.Composable:
        """A selected column: the timestamp as ``_time_cell``, a numeric value as its text
        (made the nearest double by ``_finished``: the number the catalog stores, read
        without a Decimal per cell, and no cast on the server that a huge value would fail)."""
        if column == self._mapping.timestamp.column:
            return self._time_cell()
        cell = sql.Identifier(column)
        if column not in self._numbers():
            return cell
        return sql.SQL("{}::text").format(cell)

    def _numbers(self) -> list[str]:
        """The value columns of SQL type numeric."""
        return [
            c
            for c in self._columns
            if c in self._values and self._types.get(c, "").startswith("numeric")
        ]

    def _finished(self, table: pa.Table) -> pa.Table:
        """A table as read, its numerics' texts made doubles, and each row's source day
        appended (after the text of a time out of range)."""
        numbers = set(self._numbers())
        columns = [
            doubles(table.column(i)) if c in numbers else table.column(i)
            for i, c in enumerate(self._columns)
        ]
        columns.append(table.column(len(self._columns)))
        stamps = table.column(self._columns.index(self._mapping.timestamp.column))
        columns.append(source_days(stamps, self._mapping.timestamp.unit))
        return pa.Table.from_arrays(columns, names=[*table.column_names, "day"])

    def _time_cell(self) -> sql.Composable:
        """The timestamp column as read: a time the driver cannot hold comes as NULL (and
        its text in the next column), so one such row cannot stop the read."""
        if self._all_held():
            return self._ts
        return sql.SQL("CASE WHEN {} THEN {} END").format(self._held(), self._ts)

    def _day_expression(self) -> sql.Composable:
        """The source day of a row (days since 1970-01-01 in the table's own terms), as
        ``postgres_columns.days`` computes it from a row read."""
        unit = self._mapping.timestamp.unit
        if unit != "timestamp":  # floor division in integers (numeric division rounds: a
            # time a few ns before midnight came out as the next day)
            return sql.SQL("({0}::bigint / {1} - ({0}::bigint % {1} < 0)::int)").format(
                self._ts, sql.Literal(PER_DAY[unit])
            )
        # in UTC: a zone-aware time's UTC date, a naive one's own
        day = sql.SQL("({}::date - DATE '1970-01-01')").format(self._ts)
        if self._all_held():
            return day
        return sql.SQL("CASE WHEN {} THEN {} END").format(self._held(), day)

    def _day_bounds(self, days: DayWindow) -> tuple[object, object]:
        unit = self._mapping.timestamp.unit
        if unit == "timestamp":
            start = datetime(1970, 1, 1) + timedelta(days=days.first)
            return start, start + timedelta(days=days.last - days.first + 1)
        return days.first * PER_DAY[unit], (days.last + 1) * PER_DAY[unit]

    def _run(self, query: sql.Composed, parameters: list[object]) -> pa.Table:
        try:
            return self._session.table(query.as_string(None), parameters)
        except adbc_driver_manager.Error as error:
            raise _unreadable(self._dsn, self._mapping, error) from error

    # --- rows ---------------------------------------------------------------------------------

    def _chunk(self, table: pa.Table, first_row: int) -> tuple[SourceChunk, _Frame]:
        """The chunk's cells by column, and its watermark (the last time read, not NULL, not
        out of range) and rows per source day, from the columns."""
        n = len(self._columns)
        by_column = {c: table.column(i).combine_chunks() for i, c in enumerate(self._columns)}
        beyond = table.column(n).combine_chunks()  # the text of a time out of range
        chunk = SourceChunk(
            by_column, first_row, beyond if beyond.null_count < len(beyond) else None
        )
        stamps = by_column[self._mapping.timestamp.column]
        held = np.flatnonzero(np.asarray(stamps.is_valid().to_numpy(zero_copy_only=False)))
        last = None if held.size == 0 else Watermark(timestamp=stamps[int(held[-1])].as_py())
        days = pc.value_counts(pc.drop_null(table.column(n + 1).combine_chunks()))
        frame: _Frame = {
            "rows": table.num_rows,
            "first_row": first_row,
            "last": last,
            "days": {
                int(d): int(k)
                for d, k in zip(
                    days.field("values").to_pylist(), days.field("counts").to_pylist(), strict=True
                )
            },
        }
        return chunk, frame


def _columns_of(connection: psycopg.Connection[Row], mapping: SourceMapping, dsn: str) -> list[Row]:
    """(name, is_nullable, data_type) of the mapped table's columns."""
    schema, table = split_name(mapping.table)
    query = (
        "SELECT column_name, is_nullable, data_type FROM information_schema.columns WHERE "
        "table_name = %s AND table_schema = COALESCE(%s, current_schema())"
    )
    try:
        return connection.execute(query, (table, schema)).fetchall()
    except psycopg.Error as error:
        raise _unreadable(dsn, mapping, error) from error


def _sql_types(connection: psycopg.Connection[Row], mapping: SourceMapping) -> dict[str, str]:
    """Each column's SQL type as the server writes it (``numeric(12,4)``, ``"Side"``)."""
    name = table_name(mapping.table).as_string(connection)
    query = (
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped"
    )
    return {str(c): str(t) for c, t in connection.execute(query, (name,)).fetchall()}


def _unreadable(dsn: str, mapping: SourceMapping, error: Exception) -> SourceReadError:
    return SourceReadError(
        f"{redacted(dsn)}: reading {mapping.table} failed: {reason(dsn, error)}", hint=_HINT
    )
