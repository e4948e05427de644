"""A table's rows as Arrow batches, read by ADBC inside the snapshot of a psycopg transaction.

psycopg makes a Python object of every cell; the ADBC PostgreSQL driver decodes the binary
wire format into Arrow columns in C, several times quicker. It joins the snapshot the
psycopg transaction exported (``SET TRANSACTION SNAPSHOT``), so its rows are those the
counts of that transaction saw. The driver streams only a query without parameters (as
``COPY ... TO STDOUT``), so a read's parameters are bound to transaction settings first and
the query reads them back: filters, the watermark and day bounds stay parameters, never
spliced, and memory holds about three batches of the stream. A parameter of a type that
cannot travel so makes the read a server-side cursor, ``FETCH``-ed a chunk at a time.
"""

import re
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime

import adbc_driver_manager
import adbc_driver_postgresql.dbapi as adbc
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql

from quantdesk.domain.errors import SourceReadError
from quantdesk.domain.source_mapping import CHUNK_ROWS_MAX

# FETCH is no query COPY can wrap: the driver then reads the result itself, still in C
_NO_COPY = {"adbc.postgresql.use_copy": "false"}
# a streamed batch of about 4 MB (50,000 rows of a bars table): as quick as larger ones
_BATCH_BYTES = {"adbc.postgresql.batch_size_hint_bytes": str(4 * 1024 * 1024)}
# the SQL type each parameter column binds as (``_bound``), named to cast its text back
_SQL_TYPES = {
    pa.int64(): "bigint",
    pa.float64(): "double precision",
    pa.string(): "text",
    pa.bool_(): "boolean",
    pa.timestamp("us", tz="UTC"): "timestamptz",
    pa.timestamp("us"): "timestamp",
    pa.list_(pa.int64()): "bigint[]",
    pa.list_(pa.float64()): "double precision[]",
    pa.list_(pa.string()): "text[]",
    pa.list_(pa.bool_()): "boolean[]",
}
Batches = Iterator[pa.Table]


class ArrowSession:
    """One ADBC connection whose only transaction is a read-only copy of ``snapshot_id``."""

    def __init__(self, conninfo: str, snapshot_id: str) -> None:
        self._connection = adbc.connect(conninfo, autocommit=False)  # the driver's BEGIN
        self._cursors = 0
        try:
            with self._connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                cursor.execute(f"SET TRANSACTION SNAPSHOT {_literal(snapshot_id)}")
                cursor.execute("SET LOCAL TIME ZONE 'UTC'")
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        try:
            self._connection.rollback()  # nothing was written: the end of the snapshot
        except adbc_driver_manager.Error:
            pass  # a connection already broken has no transaction left
        finally:
            self._connection.close()

    def table(self, query: str, parameters: Sequence[object]) -> pa.Table:
        """The whole result of a small query (a count, the rows per day)."""
        with self._connection.cursor() as cursor:
            cursor.execute(query, _bound(parameters) if parameters else None)
            return cursor.fetch_arrow_table()

    @contextmanager
    def rows(
        self,
        query: sql.Composable,
        parameters: Sequence[object],
        size: int,
        finish: Callable[[pa.Table], pa.Table] | None = None,
    ) -> Iterator[Batches]:
        """The rows of ``query`` (its parameters ``$1``, ``$2``... as ``sql.SQL`` parts) in
        tables of about ``size`` rows or more, read while the one before is being used (the
        server and the driver work while the caller commits) and passed through ``finish``
        (when given) in the same reading thread; at most one table is read ahead.

        The driver streams a query without parameters as ``COPY ... TO STDOUT (FORMAT
        binary)``: the server writes rows while the driver decodes the ones before, where a
        ``FETCH`` waits for each. So the parameters are first bound to ``set_config`` (typed,
        never spliced) and the query reads each back once, from a sub-select; a parameter of
        a type this cannot carry is read through a cursor instead."""
        streamed = _from_settings(query, parameters)
        self._cursors += 1
        name = f"quantdesk_source_{self._cursors}"
        with self._connection.cursor() as cursor:
            if streamed is None:
                tables = self._fetched(cursor, name, query, parameters, size)
            else:
                settings, text = streamed
                if parameters:
                    cursor.execute(settings, _bound(parameters))
                    cursor.fetchall()
                cursor.adbc_statement.set_options(**_BATCH_BYTES)
                cursor.execute(text)
                tables = _streamed(cursor.fetch_record_batch())
            if finish is not None:
                tables = map(finish, tables)
            with ThreadPoolExecutor(1, thread_name_prefix=name) as reader:
                yield _read_ahead(tables, reader)  # the pool waits for its last read
            if streamed is None:
                cursor.execute(f"CLOSE {name}")

    def _fetched(
        self,
        cursor: adbc.Cursor,
        name: str,
        query: sql.Composable,
        parameters: Sequence[object],
        size: int,
    ) -> Iterator[pa.Table]:
        cursor.adbc_statement.set_options(**_NO_COPY)
        declare = f"DECLARE {name} NO SCROLL CURSOR FOR {query.as_string(None)}"
        cursor.execute(declare, _bound(parameters) if parameters else None)

        def fetched() -> Iterator[pa.Table]:
            while True:
                cursor.execute(f"FETCH FORWARD {int(size)} FROM {name}")
                table = cursor.fetch_arrow_table()
                if table.num_rows:
                    yield table
                if table.num_rows < size:
                    return

        return fetched()


def _streamed(reader: pa.RecordBatchReader) -> Iterator[pa.Table]:
    """The stream's batches as tables; a failure mid-stream as the driver's own error (one
    the reader's callers already take for a failed read). Left early, the stream is closed
    (the driver reads what is left of it before the connection's next statement)."""
    try:
        for batch in reader:
            if batch.num_rows:
                yield pa.Table.from_batches([batch])
    except pa.ArrowException as error:
        raise adbc_driver_manager.OperationalError(str(error), status_code=0) from error
    finally:
        reader.close()


def _from_settings(query: sql.Composable, parameters: Sequence[object]) -> tuple[str, str] | None:
    """The statement binding ``parameters`` to transaction settings, and ``query`` reading
    each from its setting (cast back to the type it was bound as: its text round-trips);
    None when a parameter has a type without such a name here."""
    if not parameters:
        return "", query.as_string(None)
    types = [_SQL_TYPES.get(column.type) for column in _bound(parameters).columns]
    if None in types:
        return None

    def rewritten(part: sql.Composable) -> sql.Composable:
        if isinstance(part, sql.Composed):
            return sql.Composed([rewritten(p) for p in part])
        if isinstance(part, sql.SQL) and (mark := re.fullmatch(r"\$(\d+)", part.as_string(None))):
            k = int(mark[1])
            # read once (a sub-select), and an expression, not a sub-query, to ANY()
            read = f"(SELECT current_setting('quantdesk.p{k}')::{types[k - 1]})"
            return sql.SQL(f"{read}::{types[k - 1]}")
        return part

    settings = ", ".join(
        f"set_config('quantdesk.p{k}', ${k}::text, true)" for k in range(1, len(types) + 1)
    )
    return f"SELECT {settings}", rewritten(query).as_string(None)


def _read_ahead(tables: Iterator[pa.Table], reader: ThreadPoolExecutor) -> Batches:
    """``tables``, the next one read by ``reader`` while this one is used."""
    coming = reader.submit(next, tables, None)
    while (table := coming.result()) is not None:
        coming = reader.submit(next, tables, None)
        yield table


def instants(batches: Batches, size: int, at: int, table: str) -> Iterator[pa.Table]:
    """Tables of about ``size`` rows, each ending at the end of an instant: the rows after
    the ``size``-th that share its time (column ``at``) join it. A NULL time (no time, or
    one out of range) shares no instant, so a chunk may end at it. ``batches`` may come in
    any sizes."""
    pending = next(batches, None)
    if pending is None:
        return
    done = False

    def read() -> None:
        nonlocal pending, done
        more = next(batches, None)
        done = more is None
        if more is not None:
            pending = pa.concat_tables([pending, more])

    while True:
        while not done and pending.num_rows <= size:  # a row beyond the chunk, or the end
            read()
        if pending.num_rows <= size:  # the last rows
            if pending.num_rows:
                yield pending.combine_chunks()
            return
        cut = _instant_end(pending.column(at), size)
        while cut is None and not done:
            if pending.num_rows > size + CHUNK_ROWS_MAX:
                raise SourceReadError(
                    f"{table}: more than {CHUNK_ROWS_MAX:,} rows share the timestamp "
                    f"{pending.column(at)[size - 1].as_py()}; a chunk cannot hold one instant",
                    hint="add a filter that narrows the rows of one instant",
                )
            read()
            cut = _instant_end(pending.column(at), size)
        cut = pending.num_rows if cut is None else cut
        yield pending.slice(0, cut).combine_chunks()
        pending = pending.slice(cut)


def _instant_end(stamps: pa.ChunkedArray, size: int) -> int | None:
    """Where the chunk of the first ``size`` rows ends: after the last row of the instant of
    row ``size``; None when every row after it shares that instant (more must be read)."""
    tail = stamps.slice(size - 1)
    valid = np.asarray(tail.is_valid().to_numpy(zero_copy_only=False), dtype=np.bool_)
    if not valid[0]:
        return size
    values = np.asarray(pc.fill_null(tail.cast(pa.int64()), 0).to_numpy(), dtype=np.int64)
    other = np.flatnonzero(~valid | (values != values[0]))
    return None if other.size == 0 else size - 1 + int(other[0])


def _bound(parameters: Sequence[object]) -> pa.RecordBatch:
    """The parameters as one row of explicitly typed columns: a time keeps its zone (or
    its lack of one), so it binds as ``timestamptz`` or ``timestamp`` as psycopg binds it."""
    columns = [_column(value) for value in parameters]
    return pa.record_batch(columns, names=[f"p{i}" for i in range(1, len(columns) + 1)])


def _column(value: object) -> pa.Array:
    if isinstance(value, datetime):
        zone = None if value.tzinfo is None else "UTC"
        return pa.array([value], pa.timestamp("us", tz=zone))
    if isinstance(value, list) and any(isinstance(v, str) for v in value):
        return pa.array([[str(v) for v in value]])  # text, cast by the query to the column's
    return pa.array([value])


def _literal(text: str) -> str:
    return sql.Literal(text).as_string(None)
