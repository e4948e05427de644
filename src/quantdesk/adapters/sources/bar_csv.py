"""CSV bar files as a stream of tables, each record numbered by the line where it starts.

A survey pass comes first: it parses the timestamp column alone, counts the records and the
physical lines, and feeds the timestamp survey. While every line is one record (the usual
case: as many records as lines after the header) a record's line is its index plus two and
the fast parser streams the file; blank lines, line breaks inside quotes and malformed
lines need the record-by-record reading, which pairs Arrow's records with the lines the
``csv`` module finds, chunk by chunk. Every column is read as text, exactly as written, so
that one odd cell cannot change how a whole column (or a chunk of it) is read.
"""

import csv
import gzip
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from quantdesk.adapters.sources.bar_cells import TimestampSurvey
from quantdesk.domain.errors import SourceReadError
from quantdesk.domain.market_data import BarIngestOptions, Rejection, RejectReason
from quantdesk.services.columns import Int64Array

READ_HINT = "market data comes as CSV (UTF-8, a header row) or Parquet with scalar columns"
_BLOCK_BYTES = 1 << 20  # Arrow holds a few blocks ahead per thread: keep them small
_RECORD_PARSE = pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=lambda _: "skip")
_NULLS = pa.array(pacsv.ConvertOptions().null_values, pa.string())


@dataclass(frozen=True)
class CsvPiece:
    """Up to ``chunk_rows`` records: their cells as text, their lines, and the malformed
    lines met since the previous piece."""

    table: pa.Table
    rows: Int64Array
    malformed: list[Rejection]


@dataclass(frozen=True)
class CsvSurvey:
    names: list[str]
    regular: bool
    rows: int
    options: BarIngestOptions  # ``auto`` resolved from the whole timestamp column


def header(path: Path) -> list[str]:
    """The header's column names as the Arrow reader sees them (a UTF-8 BOM dropped)."""
    try:
        with open_text(path) as handle:
            first = next(csv.reader(handle), None)
    except (OSError, UnicodeDecodeError) as error:
        raise SourceReadError(f"{path}: cannot be read: {error}", hint=READ_HINT) from error
    if not first:
        raise SourceReadError(f"{path}: empty file", hint="a header row is expected on line 1")
    first[0] = first[0].removeprefix("\ufeff")
    return first


def survey(path: Path, names: list[str], timestamp: str, options: BarIngestOptions) -> CsvSurvey:
    """How to number the records, how many there are, and what ``auto`` timestamps are."""
    lines = _line_count(path)
    try:
        timestamps = TimestampSurvey(options)
        rows = 0
        for batch in _batches(path, names, [timestamp], regular=True):
            rows += batch.num_rows
            timestamps.add(timestamp_text(batch.column(0)))
        if rows + 1 == lines:
            return CsvSurvey(names, True, rows, timestamps.resolve(options))
    except pa.ArrowInvalid as error:
        if "column" not in str(error).lower():
            raise
    timestamps = TimestampSurvey(options)
    rows = 0
    for batch in _batches(path, names, [timestamp], regular=False):
        rows += batch.num_rows
        timestamps.add(timestamp_text(batch.column(0)))
    return CsvSurvey(names, False, rows, timestamps.resolve(options))


def pieces(
    path: Path, layout: CsvSurvey, columns: list[str], chunk_rows: int
) -> Iterator[CsvPiece]:
    """The file's records in pieces of ``chunk_rows``, in order; at least one piece."""
    columns = list(dict.fromkeys(columns))
    batches = _batches(path, layout.names, columns, regular=layout.regular)
    tables = _rechunk(batches, columns, chunk_rows)
    if layout.regular:
        first = 2
        for table in tables:
            rows = table.num_rows
            yield CsvPiece(table, np.arange(first, first + rows, dtype=np.int64), [])
            del table  # not held while the next piece is read
            first += rows
        return
    records = _records(path)
    held: CsvPiece | None = None  # one piece behind: malformed lines after the last record
    for table in tables:  # belong to the last piece
        starts, malformed = _take_records(records, table.num_rows)
        if len(starts) != table.num_rows:
            raise _ambiguous(path)
        if held is not None:
            yield held
        held = CsvPiece(table, np.asarray(starts, dtype=np.int64), malformed)
        del table
    trailing = [rejection for _, rejection in records]  # only malformed lines may be left
    if held is None or any(rejection is None for rejection in trailing):
        raise _ambiguous(path)
    yield CsvPiece(held.table, held.rows, [*held.malformed, *(r for r in trailing if r)])


def timestamp_text(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray:
    """Timestamp cells with the CSV reader's null spellings ("", "NA", "null"...) as null."""
    chunked = column if isinstance(column, pa.ChunkedArray) else pa.chunked_array([column])
    return pc.if_else(pc.is_in(chunked, value_set=_NULLS), pa.scalar(None, pa.string()), chunked)


def _ambiguous(path: Path) -> SourceReadError:
    return SourceReadError(
        f"{path}: the records Arrow parsed and those found line by line differ; "
        "the file's quoting is ambiguous",
        hint="write the file with standard CSV quoting (RFC 4180)",
    )


def _batches(
    path: Path, names: list[str], columns: list[str], *, regular: bool
) -> Iterator[pa.RecordBatch]:
    convert = pacsv.ConvertOptions(
        column_types=dict.fromkeys(names, pa.string()),
        include_columns=columns,
        strings_can_be_null=False,
        null_values=[],
    )
    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=_BLOCK_BYTES, use_threads=regular),
            parse_options=pacsv.ParseOptions() if regular else _RECORD_PARSE,
            convert_options=convert,
        )
        with reader:
            yield from reader
    except pa.ArrowInvalid as error:
        if "straddl" not in str(error):  # Arrow's word for a record longer than a block
            raise
        raise SourceReadError(
            f"{path}: a record is longer than {_BLOCK_BYTES:,} bytes, the most one line may "
            "hold; nothing was read",
            hint="no cell of market data is that long: check the file (a missing quote "
            "or line break?)",
        ) from error


def _rechunk(
    batches: Iterator[pa.RecordBatch], columns: list[str], chunk_rows: int
) -> Iterator[pa.Table]:
    """Tables of exactly ``chunk_rows`` rows (the last one shorter); at least one table."""
    held: pa.Table | None = None
    yielded = False
    for batch in batches:
        table = pa.Table.from_batches([batch])
        held = table if held is None else pa.concat_tables([held, table])
        while held.num_rows >= chunk_rows:
            yield held.slice(0, chunk_rows)
            held, yielded = held.slice(chunk_rows), True
    if held is None:
        yield pa.table({name: pa.array([], pa.string()) for name in columns})
    elif held.num_rows or not yielded:
        yield held


def _records(path: Path) -> Iterator[tuple[int, Rejection | None]]:
    """The line where each record starts, with a rejection when it is malformed."""
    with open_text(path) as handle:
        reader = csv.reader(handle)
        width = len(next(reader, []))
        end = reader.line_num
        for record in reader:
            start, end = end + 1, reader.line_num
            if not record:  # a blank line: no record at all, as for the fast parser
                continue
            if len(record) == width:
                yield start, None
                continue
            yield (
                start,
                Rejection(
                    row=start,
                    field="*",
                    value=",".join(record),
                    reason=RejectReason.MALFORMED_ROW,
                    detail=f"expected {width} fields, found {len(record)}",
                ),
            )


def _take_records(
    records: Iterator[tuple[int, Rejection | None]], count: int
) -> tuple[list[int], list[Rejection]]:
    """The starts of the next ``count`` well-formed records and the malformed ones between."""
    starts: list[int] = []
    malformed: list[Rejection] = []
    while len(starts) < count:
        item = next(records, None)
        if item is None:
            break
        start, rejection = item
        if rejection is None:
            starts.append(start)
        else:
            malformed.append(rejection)
    return starts, malformed


def _line_count(path: Path) -> int:
    """Physical lines, a last line without a newline included."""
    count, last = 0, b"\n"
    with _open_binary(path) as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            count += block.count(b"\n")
            last = block[-1:]
    return count + (last != b"\n")


def _open_binary(path: Path) -> io.BufferedIOBase:
    return gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")


def open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", newline="")
    return path.open(newline="")
