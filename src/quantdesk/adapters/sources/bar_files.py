"""CSV and Parquet bar files into columns, keeping every cell's own text for rejections.

Parsing never drops a row silently: a cell that is not a number becomes NaN, a timestamp
that does not parse is flagged, and a line with the wrong number of fields becomes a
rejection of its own, so the validation rules see every row of the file. Files are read in
chunks of a bounded number of rows; what needs the whole file (the columns, how rows are
numbered, what ``auto`` timestamps are) is settled before the first chunk, so a chunk reads
exactly as the same rows of the whole file.
"""

import csv
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from quantdesk.adapters.sources import bar_csv
from quantdesk.adapters.sources.bar_cells import (
    TimestampSurvey,
    parse_timestamps,
    text_lookup,
    to_float,
)
from quantdesk.adapters.sources.bar_csv import READ_HINT
from quantdesk.domain.errors import SourceReadError
from quantdesk.domain.market_data import BarIngestOptions, Rejection
from quantdesk.services.columns import (
    VALUE_FIELDS,
    BarColumns,
    Float64Array,
    Int64Array,
    RawBarColumns,
)
from quantdesk.services.ports import BarChunks

_FLAG = {
    "timestamp": "--timestamp-col",
    "open": "--open-col",
    "high": "--high-col",
    "low": "--low-col",
    "close": "--close-col",
    "volume": "--volume-col",
}


# What a user's file can make the readers raise: each becomes a SourceReadError naming the
# file. Anything else (a KeyError, a TypeError) is a bug of ours and stays one.
_FILE_ERRORS = (
    pa.ArrowException,
    csv.Error,  # a NUL byte, a field over the csv module's limit
    UnicodeDecodeError,
    EOFError,  # a truncated gzip stream
    zlib.error,
    OSError,  # gzip.BadGzipFile among them
    pd.errors.ParserError,
    pd.errors.OutOfBoundsDatetime,
)

_WHOLE_FILE = 1 << 40  # rows per chunk when the whole file is wanted at once


class BarFileSource:
    """Reads ``.csv`` (optionally gzip'd) and ``.parquet`` bar files, whole or in chunks."""

    def read_bars(self, path: Path, options: BarIngestOptions) -> RawBarColumns:
        """The whole file in one piece: a small file's (ingest itself streams, ``open_bars``)."""
        chunks = list(self.open_bars(path, options, _WHOLE_FILE).chunks)
        if len(chunks) != 1:  # the readers yield one chunk at least, one when it is whole
            raise AssertionError(f"{path}: read whole as {len(chunks)} chunks")
        return chunks[0]

    def open_bars(self, path: Path, options: BarIngestOptions, chunk_rows: int) -> BarChunks:
        if chunk_rows < 1:
            raise ValueError("chunk_rows must be >= 1")
        try:
            if _is_csv(path):
                rows, chunks = _open_csv(path, options, chunk_rows)
            else:
                rows, chunks = _open_parquet(path, options, chunk_rows)
        except _FILE_ERRORS as error:
            raise _unreadable(path, error) from error
        return BarChunks(rows=rows, chunks=_guarded(path, chunks))


def _guarded(path: Path, chunks: Iterator[RawBarColumns]) -> Iterator[RawBarColumns]:
    try:
        yield from chunks
    except _FILE_ERRORS as error:
        raise _unreadable(path, error) from error


def _unreadable(path: Path, error: BaseException) -> SourceReadError:
    detail = " ".join(str(error).split()) or type(error).__name__
    return SourceReadError(f"{path}: cannot be read: {detail}", hint=READ_HINT)


def _is_csv(path: Path) -> bool:
    return not path.name.lower().endswith((".parquet", ".pq"))


def _columns(
    names: list[str], types: list[pa.DataType] | None, options: BarIngestOptions, path: Path
) -> dict[str, str]:
    """Our field -> the file's column, each checked once for the whole file; a volume left
    out when the file has none and a default is given."""
    out: dict[str, str] = {}
    for field in ("timestamp", *VALUE_FIELDS):
        name = options.column_for(field)
        if (
            field == "volume"
            and "volume" not in options.columns  # a column named by the user must exist
            and name not in names
        ):
            if options.default_volume is None:
                raise SourceReadError(
                    f"{path}: no volume column {name!r} (columns: {names})",
                    hint="map the volume column by name, or give a default volume",
                    code="volume_column_missing",
                    data={"column": name},
                )
            continue
        position = _position(names, name, field, path)
        if types is not None:
            _check_type(types[position], name, field, path)
        out[field] = name
    return out


def _open_csv(
    path: Path, options: BarIngestOptions, chunk_rows: int
) -> tuple[int, Iterator[RawBarColumns]]:
    names = bar_csv.header(path)
    columns = _columns(names, None, options, path)
    layout = bar_csv.survey(path, names, columns["timestamp"], options)

    def chunk(piece: bar_csv.CsvPiece) -> RawBarColumns:
        cells = {field: piece.table.column(name) for field, name in columns.items()}
        timestamps = bar_csv.timestamp_text(cells["timestamp"])
        return _raw(cells, timestamps, piece.rows, piece.malformed, layout.options)

    def chunks() -> Iterator[RawBarColumns]:
        for piece in bar_csv.pieces(path, layout, list(columns.values()), chunk_rows):
            yield chunk(piece)
            del piece  # not held while the next chunk is read

    return layout.rows, chunks()


def _open_parquet(
    path: Path, options: BarIngestOptions, chunk_rows: int
) -> tuple[int, Iterator[RawBarColumns]]:
    # One file, as it is: no dataset discovery (which also refuses duplicate names
    # before the checks here can name them).
    parquet = pq.ParquetFile(path)
    schema = parquet.schema_arrow
    columns = _columns(schema.names, list(schema.types), options, path)
    wanted = list(dict.fromkeys(columns.values()))
    rows = parquet.metadata.num_rows
    batch_rows = max(1, min(chunk_rows, rows))
    survey = TimestampSurvey(options)
    if survey.needed:
        for batch in parquet_batches(parquet, [columns["timestamp"]], batch_rows):
            survey.add(scalar_column(batch.column(0)))
            if survey.settled:  # ISO text: the rest of the column cannot change that
                break
    resolved = survey.resolve(options)

    def chunk(batch: pa.RecordBatch | pa.Table, first: int) -> RawBarColumns:
        cells = {f: scalar_column(batch.column(name)) for f, name in columns.items()}
        numbers = np.arange(first, first + batch.num_rows, dtype=np.int64)
        return _raw(cells, cells["timestamp"], numbers, [], resolved)

    def chunks() -> Iterator[RawBarColumns]:
        first = 1
        for batch in parquet_batches(parquet, wanted, batch_rows):
            first += batch.num_rows
            yield chunk(batch, first - batch.num_rows)
            del batch  # not held while the next chunk is read

    return rows, chunks()


def parquet_batches(
    parquet: pq.ParquetFile, columns: list[str], batch_rows: int
) -> Iterator[pa.RecordBatch | pa.Table]:
    """The columns in batches of at most ``batch_rows``, read a row group at a time (a batch
    never spans two), or the whole file as one table when ``batch_rows`` covers it.

    Arrow's batch reader over many row groups keeps part of each one it has passed (some
    30 MB per two million-row groups); one reader per row group keeps memory flat.
    """
    if batch_rows >= parquet.metadata.num_rows:
        yield parquet.read(columns=columns, use_threads=False)
        return
    for group in range(parquet.metadata.num_row_groups):
        yield from parquet.iter_batches(
            batch_size=batch_rows, row_groups=[group], columns=columns, use_threads=False
        )


def scalar_column(column: pa.Array | pa.ChunkedArray) -> pa.ChunkedArray:
    chunked = column if isinstance(column, pa.ChunkedArray) else pa.chunked_array([column])
    if pa.types.is_dictionary(chunked.type):  # categorical text or numbers, as pandas writes
        return chunked.cast(chunked.type.value_type)
    return chunked


def _raw(
    cells: dict[str, pa.ChunkedArray],
    timestamps: pa.ChunkedArray,
    rows: Int64Array,
    malformed: list[Rejection],
    options: BarIngestOptions,
) -> RawBarColumns:
    ts_ns, status = parse_timestamps(timestamps, options)
    numbers: dict[str, Float64Array] = {}
    for field in VALUE_FIELDS:
        if field in cells:
            numbers[field] = to_float(cells[field])
        else:
            assert options.default_volume is not None  # _columns allowed no volume only so
            numbers[field] = np.full(len(rows), options.default_volume, dtype=np.float64)
    return RawBarColumns(
        source_row=rows,
        ts_ns=ts_ns,
        ts_status=status,
        values=BarColumns(ts_ns=ts_ns, **numbers),
        text_of=text_lookup(cells),
        malformed=malformed,
    )


def _position(names: list[str], name: str, field: str, path: Path) -> int:
    """Where the one column of that name stands."""
    positions = [i + 1 for i, n in enumerate(names) if n == name]
    if not positions:
        raise SourceReadError(
            f"{path}: no {field} column {name!r} (columns: {names})",
            hint=f"map it with {_FLAG[field]} NAME",
        )
    if len(positions) > 1:
        raise SourceReadError(
            f"{path}: the {field} column {name!r} appears {len(positions)} times "
            f"(columns {', '.join(map(str, positions))}); which one holds the {field} is "
            "ambiguous",
            hint="rename or remove the duplicate column",
        )
    return positions[0] - 1


def _check_type(kind: pa.DataType, name: str, field: str, path: Path) -> None:
    """A Parquet column must be of a type that can hold the field."""
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    scalar = _is_text(kind) or _is_number(kind) or pa.types.is_null(kind)
    if field == "timestamp":
        scalar = (scalar or pa.types.is_timestamp(kind)) and not pa.types.is_decimal(kind)
    if not scalar:
        expected = (
            "timestamps, integer or float epochs, or ISO-8601 text"
            if field == "timestamp"
            else "numbers or numeric text"
        )
        raise SourceReadError(
            f"{path}: the {field} column {name!r} has type {kind}; expected {expected}",
            hint="write one scalar value of that kind per cell (no lists, structs or maps)",
        )


def _is_text(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)
    )


def _is_number(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)
    )
