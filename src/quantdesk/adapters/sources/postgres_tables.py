"""``TableSource`` on PostgreSQL with psycopg 3: one snapshot, server-side cursors, chunks.

Every name of the mapping is quoted as an identifier (``psycopg.sql.Identifier``), never
spliced; filter values, the watermark and day bounds travel as parameters. A snapshot is one
read-only REPEATABLE READ transaction in the UTC time zone, so its counts and chunks see
one state of the table and a SQL date is a UTC date; nothing is ever written to the source
(the migration never touches a table it was not given, and only reads that one).
"""

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from quantdesk.adapters.sources.table_bars import Cell, OutOfRangeTime, SourceChunk, raw_bars
from quantdesk.domain.errors import SourceReadError
from quantdesk.domain.migration import Watermark
from quantdesk.domain.source_mapping import CHUNK_ROWS_MAX, Filter, SourceMapping
from quantdesk.services.columns import VALUE_FIELDS
from quantdesk.services.ports.table_sources import BarChunk, DayWindow

_OPS = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_CONNECT_TIMEOUT_S = 10
_HINT = "check the source URL, that the server is up and that the user may read the table"
_EPOCH = date(1970, 1, 1)
_PER_DAY = {"s": 86_400, "ms": 86_400_000, "us": 86_400_000_000, "ns": 86_400_000_000_000}
_TIE_STEP = 1_000
_TIME_TYPES = ("timestamp with time zone", "timestamp without time zone")
_INTEGER_TYPES = ("bigint", "integer", "smallint")
Row = tuple[Cell, ...]


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
        return found

    @contextmanager
    def snapshot(self, mapping: SourceMapping) -> Iterator["PostgresSnapshot"]:
        with self._connect() as connection:
            connection.read_only = True
            connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            try:
                with connection.transaction():
                    connection.execute("SET LOCAL TIME ZONE 'UTC'")
                    types = {
                        str(r[0]): str(r[2]) for r in _columns_of(connection, mapping, self._dsn)
                    }
                    yield PostgresSnapshot(connection, mapping, self._dsn, types)
            except psycopg.Error as error:
                raise _unreadable(self._dsn, mapping, error) from error

    def _connect(self) -> psycopg.Connection[Row]:
        try:
            return psycopg.connect(self._dsn, connect_timeout=_CONNECT_TIMEOUT_S)
        except psycopg.Error as error:
            raise SourceReadError(
                f"cannot connect to {redacted(self._dsn)}: {_first_line(error)}", hint=_HINT
            ) from error


class PostgresSnapshot:
    """The ``TableSnapshot`` port inside one open transaction."""

    def __init__(
        self,
        connection: psycopg.Connection[Row],
        mapping: SourceMapping,
        dsn: str,
        types: Mapping[str, str],
    ) -> None:
        self._connection = connection
        self._types = types
        self._mapping = mapping
        self._dsn = dsn
        self._columns = mapping.selected()
        self._values = {mapping.column_of(f) for f in VALUE_FIELDS}
        self._ts = sql.Identifier(mapping.timestamp.column)
        self._cursors = 0

    def count(self, after: Watermark | None = None, through: Watermark | None = None) -> int:
        where, parameters = self._where(after, None, through)
        query = sql.SQL("SELECT count(*) FROM {}{}").format(self._table(), where)
        row = self._run(query, parameters).fetchone()
        return int(str(row[0])) if row else 0

    def day_counts(self, through: Watermark) -> dict[int, int]:
        where, parameters = self._where(None, None, through)
        query = sql.SQL("SELECT {day}, count(*) FROM {table}{where} GROUP BY 1").format(
            day=self._day_expression(), table=self._table(), where=where
        )
        counts = self._run(query, parameters).fetchall()  # no day: a time out of range
        return {int(str(day)): int(str(n)) for day, n in counts if day is not None}

    def bar_chunks(
        self,
        after: Watermark | None = None,
        days: DayWindow | None = None,
        through: Watermark | None = None,
    ) -> Iterator[BarChunk]:
        query, parameters = self._select(after, days, through)
        first_row = 1
        self._cursors += 1
        name = f"quantdesk_source_{self._cursors}"
        try:
            with self._connection.cursor(name=name) as cursor:
                cursor.itersize = self._mapping.chunk_rows
                cursor.execute(query, parameters)
                for rows in self._instants(cursor):
                    yield self._bar_chunk(rows, first_row)
                    first_row += len(rows)
        except psycopg.Error as error:
            raise _unreadable(self._dsn, self._mapping, error) from error

    def query_text(self, after: Watermark | None = None) -> str:
        query, parameters = self._select(after, None, None)
        text = query.as_string(self._connection)
        return f"{text} -- parameters {parameters!r}"[:4_000]

    # --- the SQL ------------------------------------------------------------------------------

    def _table(self) -> sql.Identifier:
        schema, table = _split(self._mapping.table)
        return sql.Identifier(schema, table) if schema else sql.Identifier(table)

    def _where(
        self,
        after: Watermark | None,
        days: DayWindow | None,
        through: Watermark | None,
    ) -> tuple[sql.Composable, list[object]]:
        conditions: list[sql.Composable] = []
        parameters: list[object] = []
        for item in self._mapping.filters:
            conditions.append(_condition(item))
            parameters.append(item.value)
        if after is not None:  # rows without a timestamp are read (and rejected) every time
            conditions.append(sql.SQL("({0} > %s OR {0} IS NULL)").format(self._ts))
            parameters.append(after.timestamp)
        if through is not None:
            conditions.append(sql.SQL("{} <= %s").format(self._ts))
            parameters.append(through.timestamp)
        if days is not None:
            conditions.append(sql.SQL("{0} >= %s AND {0} < %s").format(self._ts))
            parameters.extend(self._day_bounds(days))
        if not conditions:
            return sql.SQL(""), parameters
        return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(conditions), parameters

    def _select(
        self, after: Watermark | None, days: DayWindow | None, through: Watermark | None
    ) -> tuple[sql.Composed, list[object]]:
        where, parameters = self._where(after, days, through)
        order: list[sql.Composable] = [sql.SQL("{} NULLS LAST").format(self._ts)]
        if self._mapping.key is not None:
            order.append(sql.Identifier(self._mapping.key))
        columns = [self._cell(c) for c in self._columns]
        # then the text of a time out of range, and the row's source day (as day_counts)
        if self._mapping.timestamp.unit == "timestamp":
            columns.append(
                sql.SQL("CASE WHEN NOT {} THEN {}::text END").format(self._held(), self._ts)
            )
        else:
            columns.append(sql.SQL("NULL::text"))
        columns.append(self._day_expression())
        query = sql.SQL("SELECT {columns} FROM {table}{where} ORDER BY {order}").format(
            columns=sql.SQL(", ").join(columns),
            table=self._table(),
            where=where,
            order=sql.SQL(", ").join(order),
        )
        return query, parameters

    def _held(self) -> sql.Composable:
        """True for a SQL time Python holds (years 1 to 9999: not infinity, not BC)."""
        return sql.SQL("(isfinite({0}) AND {0} >= '0001-01-01' AND {0} < '10000-01-01')").format(
            self._ts
        )

    def _cell(self, column: str) -> sql.Composable:
        """A selected column: the timestamp as ``_time_cell``, a numeric value as the nearest
        double (the number the catalog stores, read without a Decimal per cell)."""
        if column == self._mapping.timestamp.column:
            return self._time_cell()
        cell = sql.Identifier(column)
        if self._types.get(column) != "numeric" or column not in self._values:
            return cell
        # beyond 1e300 (no price or size is that large) the double is the sign's infinity,
        # so a huge value is a rejected row, not a failed read (float8 would overflow)
        return sql.SQL(
            "CASE WHEN {0} = 'NaN' OR abs({0}) < 1e300 THEN {0}::float8 "
            "ELSE sign({0})::float8 * 'Infinity'::float8 END"
        ).format(cell)

    def _time_cell(self) -> sql.Composable:
        """The timestamp column as read: a time the driver cannot hold comes as NULL (and
        its text in the last column), so one such row cannot stop the read."""
        if self._mapping.timestamp.unit != "timestamp":
            return self._ts
        return sql.SQL("CASE WHEN {} THEN {} END").format(self._held(), self._ts)

    def _day_expression(self) -> sql.Composable:
        """The source day of a row (days since 1970-01-01 in the table's own terms)."""
        unit = self._mapping.timestamp.unit
        if unit == "timestamp":  # in UTC: a zone-aware time's UTC date, a naive one's own
            return sql.SQL("CASE WHEN {} THEN ({}::date - DATE '1970-01-01') END").format(
                self._held(), self._ts
            )
        return sql.SQL("floor({}::numeric / {})::bigint").format(
            self._ts, sql.Literal(_PER_DAY[unit])
        )

    def _day_bounds(self, days: DayWindow) -> tuple[object, object]:
        unit = self._mapping.timestamp.unit
        if unit == "timestamp":
            start = datetime(1970, 1, 1) + timedelta(days=days.first)
            return start, start + timedelta(days=days.last - days.first + 1)
        return days.first * _PER_DAY[unit], (days.last + 1) * _PER_DAY[unit]

    def _run(self, query: sql.Composed, parameters: list[object]) -> psycopg.Cursor[Row]:
        try:
            return self._connection.execute(query, parameters)
        except psycopg.Error as error:
            raise _unreadable(self._dsn, self._mapping, error) from error

    # --- rows ---------------------------------------------------------------------------------

    def _instants(self, cursor: psycopg.ServerCursor[Row]) -> Iterator[list[Row]]:
        """Chunks of about ``chunk_rows`` rows, each ending at the end of an instant."""
        size = self._mapping.chunk_rows
        at = self._columns.index(self._mapping.timestamp.column)
        pending: list[Row] = []

        def take(n: int) -> list[Row]:
            if len(pending) < n:
                pending.extend(cursor.fetchmany(max(n - len(pending), _TIE_STEP)))
            out = pending[:n]
            del pending[:n]
            return out

        while rows := take(size):
            last = rows[-1][at]
            while last is not None and (following := take(1)):
                if following[0][at] != last:
                    pending.insert(0, following[0])
                    break
                rows.append(following[0])
                if len(rows) > size + CHUNK_ROWS_MAX:
                    raise SourceReadError(
                        f"{self._mapping.table}: more than {CHUNK_ROWS_MAX:,} rows share "
                        f"the timestamp {last}; a chunk cannot hold one instant",
                        hint="add a filter that narrows the rows of one instant",
                    )
            yield rows

    def _bar_chunk(self, rows: list[Row], first_row: int) -> BarChunk:
        transposed = list(zip(*rows, strict=True))  # a column per selected expression
        by_column: dict[str, Sequence[Cell]] = dict(zip(self._columns, transposed, strict=False))
        stamps: Sequence[Cell] = transposed[len(self._columns)]
        if any(text is not None for text in stamps):  # times no datetime holds, as their text
            at = self._mapping.timestamp.column
            by_column[at] = [
                cell if text is None else OutOfRangeTime(text)
                for cell, text in zip(by_column[at], stamps, strict=True)
            ]
        bars, rejections = raw_bars(SourceChunk(by_column, first_row), self._mapping)
        held = (s for s in reversed(by_column[self._mapping.timestamp.column]) if _is_time(s))
        last = next(held, None)  # not NULL, not out of range
        watermark = None if last is None else Watermark(timestamp=last)
        days = Counter(int(str(d)) for d in transposed[-1] if d is not None)
        return BarChunk(
            bars=bars,
            rejections=rejections,
            rows=len(rows),
            first_row=first_row,
            last=watermark,
            days=dict(days),
        )


def _columns_of(connection: psycopg.Connection[Row], mapping: SourceMapping, dsn: str) -> list[Row]:
    """(name, is_nullable, data_type) of the mapped table's columns."""
    schema, table = _split(mapping.table)
    query = (
        "SELECT column_name, is_nullable, data_type FROM information_schema.columns WHERE "
        "table_name = %s AND table_schema = COALESCE(%s, current_schema())"
    )
    try:
        return connection.execute(query, (table, schema)).fetchall()
    except psycopg.Error as error:
        raise _unreadable(dsn, mapping, error) from error


def _is_time(cell: Cell) -> bool:
    """A cell the watermark can be: a ``datetime``, or an epoch integer."""
    return isinstance(cell, datetime) or (isinstance(cell, int) and not isinstance(cell, bool))


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


def _split(table: str) -> tuple[str | None, str]:
    schema, _dot, name = table.rpartition(".")
    return (schema or None), name


def _condition(item: Filter) -> sql.Composed:
    column = sql.Identifier(item.column)
    if item.op == "in":
        return sql.SQL("{} = ANY(%s)").format(column)
    return sql.SQL("{} " + _OPS[item.op] + " %s").format(column)


def _unreadable(dsn: str, mapping: SourceMapping, error: psycopg.Error) -> SourceReadError:
    return SourceReadError(
        f"{redacted(dsn)}: reading {mapping.table} failed: {_first_line(error)}", hint=_HINT
    )


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:300] if text else type(error).__name__
