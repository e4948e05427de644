"""CSV and Parquet bar files into columns, keeping every cell's own text for rejections.

Parsing never drops a row silently: a cell that is not a number becomes NaN, a timestamp
that does not parse is flagged, and a line with the wrong number of fields becomes a
rejection of its own, so the validation rules see every row of the file.
"""

import csv
import gzip
import io
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from quantdesk.adapters.sources.bar_cells import parse_timestamps, to_float
from quantdesk.domain.errors import SourceReadError
from quantdesk.domain.market_data import (
    BarIngestOptions,
    Rejection,
    RejectReason,
)
from quantdesk.services.columns import (
    VALUE_FIELDS,
    BarColumns,
    Float64Array,
    Int64Array,
    RawBarColumns,
)

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
_READ_HINT = "bars come as CSV (UTF-8, a header row) or Parquet with scalar columns"


class BarFileSource:
    """Reads ``.csv`` (optionally gzip'd) and ``.parquet`` bar files."""

    def read_bars(self, path: Path, options: BarIngestOptions) -> RawBarColumns:
        try:
            return _read_bars(path, options)
        except _FILE_ERRORS as error:
            raise _unreadable(path, error) from error


def _unreadable(path: Path, error: BaseException) -> SourceReadError:
    detail = " ".join(str(error).split()) or type(error).__name__
    return SourceReadError(f"{path}: cannot be read: {detail}", hint=_READ_HINT)


def _read_bars(path: Path, options: BarIngestOptions) -> RawBarColumns:
    table, rows, malformed = _read_table(path, options)
    ts_column = _column(table, options.column_for("timestamp"), "timestamp", path)
    ts_ns, status = parse_timestamps(ts_column, options)
    cells: dict[str, pa.ChunkedArray] = {"timestamp": ts_column}
    numbers: dict[str, Float64Array] = {}
    for field in VALUE_FIELDS:
        name = options.column_for(field)
        if (
            field == "volume"
            and "volume" not in options.columns  # a column named by the user must exist
            and name not in table.column_names
        ):
            if options.default_volume is None:
                raise SourceReadError(
                    f"{path}: no volume column {name!r} (columns: {table.column_names})",
                    hint="map the volume column by name, or give a default volume",
                    code="volume_column_missing",
                    data={"column": name},
                )
            numbers[field] = np.full(table.num_rows, options.default_volume, dtype=np.float64)
            continue
        cells[field] = _column(table, name, field, path)
        numbers[field] = to_float(cells[field])
    return RawBarColumns(
        source_row=rows,
        ts_ns=ts_ns,
        ts_status=status,
        values=BarColumns(ts_ns=ts_ns, **numbers),
        text_of=_csv_text_lookup(path, table, {f: options.column_for(f) for f in cells})
        if _is_csv(path)
        else _text_lookup(cells),
        malformed=malformed,
    )


def _is_csv(path: Path) -> bool:
    return not path.name.lower().endswith((".parquet", ".pq"))


def _read_table(
    path: Path, options: BarIngestOptions
) -> tuple[pa.Table, Int64Array, list[Rejection]]:
    if not _is_csv(path):
        # One file, as it is: no dataset discovery (which also refuses duplicate names
        # before _column can name them).
        table = pq.ParquetFile(path).read()
        return table, np.arange(1, table.num_rows + 1, dtype=np.int64), []
    return _read_csv(path, {options.column_for(f) for f in VALUE_FIELDS})


def _read_csv(path: Path, numeric: set[str]) -> tuple[pa.Table, Int64Array, list[Rejection]]:
    """Fast multithreaded parse, numbered by line; irregular files are re-read record by record.

    Only the value columns are left to type inference; the rest (timestamps above all) stay
    text so that one odd cell cannot change how a whole column is read. A row's number is
    the physical line where its record starts: while every line is one record (the usual
    case, checked by counting lines) that is its index plus two; blank lines, line breaks
    inside quotes and malformed lines need the record-by-record reading.
    """
    strings = {name: pa.string() for name in _header(path) if name not in numeric}
    convert = pacsv.ConvertOptions(column_types=strings, strings_can_be_null=True)
    try:
        table = pacsv.read_csv(path, convert_options=convert)
    except pa.ArrowInvalid as error:
        if "column" not in str(error).lower():
            raise
    else:
        if _line_count(path) == table.num_rows + 1:
            return table, np.arange(2, table.num_rows + 2, dtype=np.int64), []
    return _read_csv_by_record(path, convert)


def _read_csv_by_record(
    path: Path, convert: pacsv.ConvertOptions
) -> tuple[pa.Table, Int64Array, list[Rejection]]:
    starts, malformed = _record_starts(path)
    table = pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(use_threads=False),
        parse_options=_RECORD_PARSE,
        convert_options=convert,
    )
    if table.num_rows != len(starts):  # the two readers split records differently
        raise SourceReadError(
            f"{path}: {table.num_rows} records parsed but {len(starts)} found line by line; "
            "the file's quoting is ambiguous",
            hint="write the file with standard CSV quoting (RFC 4180)",
        )
    return table, np.asarray(starts, dtype=np.int64), malformed


def _record_starts(path: Path) -> tuple[list[int], list[Rejection]]:
    """The line where each well-formed record starts, and the malformed ones as rejections."""
    starts: list[int] = []
    malformed: list[Rejection] = []
    with _open_text(path) as handle:
        reader = csv.reader(handle)
        width = len(next(reader, []))
        end = reader.line_num
        for record in reader:
            start, end = end + 1, reader.line_num
            if not record:  # a blank line: no record at all, as for the fast parser
                continue
            if len(record) == width:
                starts.append(start)
                continue
            malformed.append(
                Rejection(
                    row=start,
                    field="*",
                    value=",".join(record),
                    reason=RejectReason.MALFORMED_ROW,
                    detail=f"expected {width} fields, found {len(record)}",
                )
            )
    return starts, malformed


_RECORD_PARSE = pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=lambda _: "skip")


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


def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", newline="")
    return path.open(newline="")


def _header(path: Path) -> list[str]:
    try:
        with _open_text(path) as handle:
            first = next(csv.reader(handle), None)
    except (OSError, UnicodeDecodeError) as error:
        raise SourceReadError(f"{path}: cannot be read: {error}", hint=_READ_HINT) from error
    if not first:
        raise SourceReadError(f"{path}: empty file", hint="a header row is expected on line 1")
    return [name.strip() for name in first]


def _column(table: pa.Table, name: str, field: str, path: Path) -> pa.ChunkedArray:
    """The one column of that name; from Parquet, only if its type can hold the field."""
    positions = [i + 1 for i, n in enumerate(table.column_names) if n == name]
    if not positions:
        raise SourceReadError(
            f"{path}: no {field} column {name!r} (columns: {table.column_names})",
            hint=f"map it with {_FLAG[field]} NAME",
        )
    if len(positions) > 1:
        raise SourceReadError(
            f"{path}: the {field} column {name!r} appears {len(positions)} times "
            f"(columns {', '.join(map(str, positions))}); which one holds the {field} is "
            "ambiguous",
            hint="rename or remove the duplicate column",
        )
    column = table.column(positions[0] - 1)
    if _is_csv(path):  # the CSV reader makes every column text or a number
        return column
    if pa.types.is_dictionary(column.type):  # categorical text or numbers, as pandas writes
        column = column.cast(column.type.value_type)
    scalar = _is_text(column.type) or _is_number(column.type) or pa.types.is_null(column.type)
    if field == "timestamp":
        scalar = (scalar or pa.types.is_timestamp(column.type)) and not pa.types.is_decimal(
            column.type
        )
    if not scalar:
        expected = (
            "timestamps, integer or float epochs, or ISO-8601 text"
            if field == "timestamp"
            else "numbers or numeric text"
        )
        raise SourceReadError(
            f"{path}: the {field} column {name!r} has type {column.type}; expected {expected}",
            hint="write one scalar value of that kind per cell (no lists, structs or maps)",
        )
    return column


def _is_text(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)
    )


def _is_number(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)
    )


def _csv_text_lookup(
    path: Path, typed: pa.Table, columns: dict[str, str]
) -> Callable[[str, int], str]:
    """The file's own text of a cell ("90.00", not 90.0), read again only if asked for."""
    cache: list[pa.Table] = []

    def text_of(field: str, index: int) -> str:
        if not cache:
            as_text = pacsv.ConvertOptions(
                column_types=dict.fromkeys(typed.column_names, pa.string()),
                strings_can_be_null=False,
            )
            try:
                cache.append(
                    pacsv.read_csv(
                        path,
                        read_options=pacsv.ReadOptions(use_threads=False),
                        parse_options=_RECORD_PARSE,
                        convert_options=as_text,
                    )
                )
            except _FILE_ERRORS as error:  # read later than the rest: the same guard
                raise _unreadable(path, error) from error
        if cache[0].num_rows != typed.num_rows or not set(columns.values()) <= set(
            cache[0].column_names
        ):
            raise SourceReadError(
                f"{path}: the file changed while it was read", hint="ingest it again"
            )
        cells = {f: cache[0].column(name) for f, name in columns.items()}
        return _text_lookup(cells)(field, index)

    return text_of


def _text_lookup(cells: dict[str, pa.ChunkedArray]) -> Callable[[str, int], str]:
    def text_of(field: str, index: int) -> str:
        column = cells.get(field)
        if column is None:
            return ""
        value = column[index].as_py()
        return "" if value is None else str(value)

    return text_of
