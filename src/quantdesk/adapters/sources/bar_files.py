"""CSV and Parquet bar files into columns, keeping every cell's own text for rejections.

Parsing never drops a row silently: a cell that is not a number becomes NaN, a timestamp
that does not parse is flagged, and a line with the wrong number of fields becomes a
rejection of its own, so the validation rules see every row of the file.
"""

import csv
import gzip
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from quantdesk.domain.errors import SourceReadError
from quantdesk.domain.market_data import (
    BarIngestOptions,
    Rejection,
    RejectReason,
    TimestampFormat,
)
from quantdesk.services.columns import (
    VALUE_FIELDS,
    BarColumns,
    Float64Array,
    Int64Array,
    RawBarColumns,
    TimestampStatus,
    UInt8Array,
)

_UNIT_NS = {
    TimestampFormat.SECONDS: 1_000_000_000,
    TimestampFormat.MILLISECONDS: 1_000_000,
    TimestampFormat.MICROSECONDS: 1_000,
    TimestampFormat.NANOSECONDS: 1,
}
_HAS_ZONE = r"(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$"
_EPOCH_TEXT = r"^\s*-?\d+(?:\.\d+)?\s*$"
_FLAG = {
    "timestamp": "--timestamp-col",
    "open": "--open-col",
    "high": "--high-col",
    "low": "--low-col",
    "close": "--close-col",
    "volume": "--volume-col",
}


class BarFileSource:
    """Reads ``.csv`` (optionally gzip'd) and ``.parquet`` bar files."""

    def read_bars(self, path: Path, options: BarIngestOptions) -> RawBarColumns:
        table, rows, malformed = _read_table(path, options)
        ts_column = _column(table, options.column_for("timestamp"), "timestamp", path)
        ts_ns, status = _parse_timestamps(ts_column, options)
        cells: dict[str, pa.ChunkedArray] = {"timestamp": ts_column}
        numbers: dict[str, Float64Array] = {}
        for field in VALUE_FIELDS:
            name = options.column_for(field)
            if field == "volume" and name not in table.column_names:
                if options.default_volume is None:
                    raise SourceReadError(
                        f"{path}: no volume column {name!r} (columns: {table.column_names})",
                        hint="map it with --volume-col NAME or pass --default-volume V",
                    )
                numbers[field] = np.full(table.num_rows, options.default_volume, dtype=np.float64)
                continue
            cells[field] = _column(table, name, field, path)
            numbers[field] = _to_float(cells[field])
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
    try:
        if not _is_csv(path):
            table = pq.read_table(path)
            return table, np.arange(1, table.num_rows + 1, dtype=np.int64), []
        return _read_csv(path, {options.column_for(f) for f in VALUE_FIELDS})
    except SourceReadError:
        raise
    except (pa.ArrowInvalid, OSError) as error:
        raise SourceReadError(
            f"{path}: cannot be read: {error}",
            hint="bars come as CSV with a header row, or Parquet",
        ) from error


def _read_csv(path: Path, numeric: set[str]) -> tuple[pa.Table, Int64Array, list[Rejection]]:
    """Fast multithreaded parse; a file with malformed lines is re-read to number them.

    Only the value columns are left to type inference; the rest (timestamps above all) stay
    text so that one odd cell cannot change how a whole column is read.
    """
    strings = {name: pa.string() for name in _header(path) if name not in numeric}
    convert = pacsv.ConvertOptions(column_types=strings, strings_can_be_null=True)
    try:
        table = pacsv.read_csv(path, convert_options=convert)
        return table, np.arange(2, table.num_rows + 2, dtype=np.int64), []
    except pa.ArrowInvalid as error:
        if "column" not in str(error).lower():
            raise
    malformed: list[Rejection] = []

    def skip(row: pacsv.InvalidRow) -> str:
        malformed.append(
            Rejection(
                row=int(row.number) if row.number is not None else -1,
                field="*",
                value=row.text or "",
                reason=RejectReason.MALFORMED_ROW,
                detail=f"expected {row.expected_columns} fields, found {row.actual_columns}",
            )
        )
        return "skip"

    table = pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(use_threads=False),
        parse_options=pacsv.ParseOptions(invalid_row_handler=skip),
        convert_options=convert,
    )
    bad_lines = np.array([r.row for r in malformed], dtype=np.int64)
    lines = np.arange(2, table.num_rows + len(malformed) + 2, dtype=np.int64)
    return table, np.setdiff1d(lines, bad_lines, assume_unique=True), malformed


def _header(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", newline="") as handle:
            first = next(csv.reader(handle), None)
    except (OSError, UnicodeDecodeError) as error:
        raise SourceReadError(f"{path}: cannot be read: {error}") from error
    if not first:
        raise SourceReadError(f"{path}: empty file", hint="a header row is expected on line 1")
    return [name.strip() for name in first]


def _column(table: pa.Table, name: str, field: str, path: Path) -> pa.ChunkedArray:
    if name not in table.column_names:
        raise SourceReadError(
            f"{path}: no {field} column {name!r} (columns: {table.column_names})",
            hint=f"map it with {_FLAG[field]} NAME",
        )
    return table.column(name)


def _to_float(column: pa.ChunkedArray) -> Float64Array:
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
        values: Float64Array = column.to_numpy().astype(np.float64)  # nulls -> NaN
        return values
    text = pd.Series(column.cast(pa.string()).to_numpy(zero_copy_only=False))
    return pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _parse_timestamps(
    column: pa.ChunkedArray, options: BarIngestOptions
) -> tuple[Int64Array, UInt8Array]:
    n = len(column)
    status = np.zeros(n, dtype=np.uint8)
    if pa.types.is_timestamp(column.type):
        ns = column.cast(pa.timestamp("ns", tz=column.type.tz)).cast(pa.int64())
        values = ns.to_numpy(zero_copy_only=False)
        missing = np.asarray(ns.is_null())
        if column.type.tz is None and not options.assume_utc:
            status[:] = TimestampStatus.NO_TIMEZONE
        status[missing] = TimestampStatus.UNPARSEABLE
        return np.where(missing, 0, values).astype(np.int64), status
    fmt = options.timestamp_format
    numeric = pa.types.is_integer(column.type) or pa.types.is_floating(column.type)
    if fmt is TimestampFormat.AUTO:
        if numeric or _all_epoch_text(column):
            return _epoch(column, None)  # unit from magnitude
        fmt = TimestampFormat.ISO
    if fmt is TimestampFormat.ISO:
        return _iso(column, options.assume_utc)
    return _epoch(column, _UNIT_NS[fmt])


def _all_epoch_text(column: pa.ChunkedArray) -> bool:
    text = column.cast(pa.string())
    valid = pc.drop_null(text)
    return len(valid) > 0 and bool(pc.all(pc.match_substring_regex(valid, _EPOCH_TEXT)).as_py())


def _epoch(column: pa.ChunkedArray, unit_ns: int | None) -> tuple[Int64Array, UInt8Array]:
    n = len(column)
    if pa.types.is_integer(column.type):
        filled = pc.fill_null(column, 0)
        integers = np.asarray(filled.to_numpy(), dtype=np.int64)
        valid = ~np.asarray(column.is_null().to_numpy(zero_copy_only=False), dtype=np.bool_)
        floats = integers.astype(np.float64)
    else:
        floats = _to_float(column)
        valid = np.isfinite(floats)
        integers = np.where(valid, floats, 0).astype(np.int64)
        whole = _whole_numbers(column)
        if whole is not None:  # exact: a float64 cannot hold every nanosecond epoch
            integers = np.where(valid, whole, integers)
            floats = np.where(valid, integers.astype(np.float64), floats)
    if unit_ns is None:
        unit_ns = _unit_from_magnitude(floats[valid])
    status = np.where(valid, TimestampStatus.OK, TimestampStatus.UNPARSEABLE).astype(np.uint8)
    if bool(np.all(floats[valid] == integers[valid])):
        ts = integers * np.int64(unit_ns)
    else:
        ts = np.round(np.where(valid, floats, 0) * unit_ns).astype(np.int64)
    if ts.shape[0] != n:
        raise AssertionError("timestamp parse changed the row count")
    return ts.astype(np.int64), status


def _whole_numbers(column: pa.ChunkedArray) -> Int64Array | None:
    """Integer text parsed exactly (0 where a cell is not an integer), or None if none is."""
    text = pc.utf8_trim_whitespace(column.cast(pa.string()))
    integral = pc.fill_null(pc.match_substring_regex(text, r"^-?\d{1,19}$"), False)
    if not pc.any(integral).as_py():
        return None
    try:
        digits = pc.if_else(integral, text, "0").cast(pa.int64())
    except pa.ArrowInvalid:  # beyond int64: no epoch of this era
        return None
    return np.asarray(digits.to_numpy(), dtype=np.int64)


def _unit_from_magnitude(values: Float64Array) -> int:
    """Seconds, milliseconds, microseconds or nanoseconds since 1970, by size."""
    if values.size == 0:
        return 1
    magnitude = float(np.median(np.abs(values)))
    if magnitude < 1e11:
        return 1_000_000_000
    if magnitude < 1e14:
        return 1_000_000
    if magnitude < 1e17:
        return 1_000
    return 1


def _iso(column: pa.ChunkedArray, assume_utc: bool) -> tuple[Int64Array, UInt8Array]:
    text = pc.utf8_trim_whitespace(column.cast(pa.string()))
    has_zone = np.asarray(
        pc.fill_null(pc.match_substring_regex(text, _HAS_ZONE), False).to_numpy(
            zero_copy_only=False
        ),
        dtype=np.bool_,
    )
    status = np.zeros(len(column), dtype=np.uint8)
    if not assume_utc:
        status[~has_zone] = TimestampStatus.NO_TIMEZONE
    ts = _iso_fast(text, has_zone)
    if ts is None:  # some cell does not parse: pandas marks exactly which ones
        strings = pd.Series(text.to_numpy(zero_copy_only=False), dtype=object)
        parsed = pd.to_datetime(strings, format="ISO8601", utc=True, errors="coerce")
        status[np.asarray(parsed.isna().to_numpy(), dtype=np.bool_)] = TimestampStatus.UNPARSEABLE
        ts = parsed.to_numpy(dtype="datetime64[ns]", na_value=np.datetime64(0, "ns")).view(np.int64)
    return ts.astype(np.int64), status


def _iso_fast(text: pa.ChunkedArray, has_zone: npt.NDArray[np.bool_]) -> Int64Array | None:
    """Arrow's own parser, 50x quicker than pandas, when every cell is well formed."""
    if pc.any(pc.is_null(text)).as_py():
        return None
    zoned = bool(has_zone.all())
    if not zoned and bool(has_zone.any()):
        return None
    try:
        parsed = pc.cast(text, pa.timestamp("ns", tz="UTC" if zoned else None))
    except pa.ArrowInvalid:
        return None
    return np.asarray(parsed.cast(pa.int64()).to_numpy(), dtype=np.int64)


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
            cache.append(
                pacsv.read_csv(
                    path,
                    read_options=pacsv.ReadOptions(use_threads=False),
                    parse_options=pacsv.ParseOptions(invalid_row_handler=lambda _: "skip"),
                    convert_options=as_text,
                )
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
