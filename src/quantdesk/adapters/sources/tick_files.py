"""CSV and Parquet tick files into columns, a bounded chunk at a time.

CSV goes through pyarrow's streaming reader (every column as text, a bounded block size)
when each line is one record, which a first pass over the bytes checks (no quote character,
no blank line); otherwise the standard ``csv`` module reads it record by record, still in
chunks, so the row numbers stay the file's own lines either way. Parquet is read by row
batches. A line with the wrong number of fields becomes a ``malformed_row`` rejection.
"""

import csv
import gzip
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, cast

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from quantdesk.adapters.sources.bar_cells import parse_timestamps
from quantdesk.adapters.sources.tick_cells import (
    CODE_FIELDS,
    WHOLE_FIELDS,
    to_code,
    to_number,
    to_trade_ids,
    to_whole,
)
from quantdesk.domain.errors import SourceReadError
from quantdesk.domain.market_data import BarIngestOptions, Rejection, RejectReason
from quantdesk.domain.ticks import OPTIONAL_FIELDS, TICK_FIELDS, TickIngestOptions, TickKind
from quantdesk.services.columns import BoolArray
from quantdesk.services.tick_columns import FIELD_DTYPES, AnyArray, RawTicks

_FILE_ERRORS = (pa.ArrowException, csv.Error, UnicodeDecodeError, EOFError, zlib.error, OSError)
_READ_HINT = "ticks come as CSV (UTF-8, a header row) or Parquet with scalar columns"
_BLOCK_BYTES = 1 << 22


class TickFileSource:
    """Reads ``.csv`` (optionally gzip'd) and ``.parquet`` tick files, chunk by chunk."""

    def read_ticks(
        self, path: Path, kind: TickKind, options: TickIngestOptions
    ) -> Iterator[RawTicks]:
        try:
            yield from _read(path, kind, options)
        except _FILE_ERRORS as error:
            detail = " ".join(str(error).split()) or type(error).__name__
            raise SourceReadError(f"{path}: cannot be read: {detail}", hint=_READ_HINT) from error


Chunk = tuple[dict[str, pa.ChunkedArray], np.ndarray, list[Rejection]]
"""Text (or typed, from Parquet) cells by column, their row numbers, malformed lines."""


def _read(path: Path, kind: TickKind, options: TickIngestOptions) -> Iterator[RawTicks]:
    if _is_parquet(path):
        parquet = pq.ParquetFile(path)
        names = parquet.schema_arrow.names
        wanted = _columns(path, kind, options, names)
        chunks: Iterator[Chunk] = _parquet_chunks(parquet, wanted, options.chunk_rows)
    else:
        names = _header(path)
        wanted = _columns(path, kind, options, names)
        chunks = _csv_chunks(path, names, options.chunk_rows)
    stamps = BarIngestOptions(
        timestamp_format=options.timestamp_format, assume_utc=options.assume_utc
    )
    for cells, rows, malformed in chunks:
        yield _convert(kind, options, wanted, cells, rows, malformed, stamps)


def _is_parquet(path: Path) -> bool:
    return path.name.lower().endswith((".parquet", ".pq"))


def _columns(
    path: Path, kind: TickKind, options: TickIngestOptions, names: list[str]
) -> dict[str, str]:
    """Our field -> the file's column, for the fields the file has; refuses what is missing."""
    wanted: dict[str, str] = {}
    for field in TICK_FIELDS[kind]:
        name = options.column_for(field)
        count = names.count(name)
        if count > 1:
            raise SourceReadError(
                f"{path}: the {field} column {name!r} appears {count} times; which one holds "
                f"the {field} is ambiguous",
                hint="rename or remove the duplicate column",
            )
        if count == 1:
            wanted[field] = name
            continue
        if field in OPTIONAL_FIELDS[kind] and field not in options.columns:
            continue
        raise SourceReadError(
            f"{path}: no {field} column {name!r} (columns: {names})",
            hint=f"name the file's {field} column in the column mapping",
            code="column_missing",
            data={"column": name, "field": field},
        )
    if kind is TickKind.QUOTE:
        sizes = {"bid_size", "ask_size"} & set(wanted)
        if len(sizes) == 1:
            raise SourceReadError(
                f"{path}: has {sizes.pop()} but not the other side's size",
                hint="give both bid_size and ask_size columns, or neither and a default size",
            )
        if not sizes and options.default_size is None:
            raise SourceReadError(
                f"{path}: no bid_size/ask_size columns (columns: {names})",
                hint="map the size columns by name, or give a default quote size",
                code="column_missing",
                data={"column": "bid_size", "field": "bid_size"},
            )
    return wanted


def _convert(
    kind: TickKind,
    options: TickIngestOptions,
    wanted: dict[str, str],
    cells: dict[str, pa.ChunkedArray],
    rows: np.ndarray,
    malformed: list[Rejection],
    stamps: BarIngestOptions,
) -> RawTicks:
    n = len(rows)
    own = {field: cells[name] for field, name in wanted.items()}
    ts_ns, status = parse_timestamps(own["timestamp"], stamps)
    values: dict[str, AnyArray] = {}
    unparsed: dict[str, BoolArray] = {}
    for field in TICK_FIELDS[kind][1:]:
        column = own.get(field)
        if column is None:  # an optional field the file lacks
            default = options.default_size if field.endswith("size") else 0
            values[field] = np.full(n, default or 0, dtype=FIELD_DTYPES[field])
        elif field in CODE_FIELDS:
            values[field] = to_code(field, column)
        elif field in WHOLE_FIELDS:
            whole, bad = to_whole(column)
            values[field], unparsed[field] = whole, bad
        elif field == "trade_id":
            values[field] = to_trade_ids(column)
        else:
            values[field] = to_number(column)
    return RawTicks(
        kind=kind,
        source_row=np.asarray(rows, dtype=np.int64),
        ts_ns=ts_ns,
        ts_status=status,
        values=values,
        unparsed=unparsed,
        text_of=_text_lookup(own),
        malformed=malformed,
    )


def _text_lookup(cells: dict[str, pa.ChunkedArray]) -> Callable[[str, int], str]:
    def text_of(field: str, index: int) -> str:
        column = cells.get(field)
        if column is None:
            return ""
        value = column[index].as_py()
        return "" if value is None else str(value)

    return text_of


def _parquet_chunks(parquet: pq.ParquetFile, wanted: dict[str, str], size: int) -> Iterator[Chunk]:
    first = 1
    for batch in parquet.iter_batches(batch_size=size, columns=sorted(set(wanted.values()))):
        cells = {name: pa.chunked_array([batch.column(name)]) for name in batch.schema.names}
        yield cells, np.arange(first, first + batch.num_rows, dtype=np.int64), []
        first += batch.num_rows


def _open_binary(path: Path) -> IO[bytes]:
    if path.suffix == ".gz":
        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")


def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", newline="")
    return path.open(newline="")


def _header(path: Path) -> list[str]:
    with _open_text(path) as handle:
        first = next(csv.reader(handle), None)
    if not first:
        raise SourceReadError(f"{path}: empty file", hint="a header row is expected on line 1")
    return [name.strip() for name in first]


def _one_record_per_line(path: Path) -> bool:
    """No quote character and no blank line: then line k + 1 holds record k."""
    previous = b"\n"
    with _open_binary(path) as handle:
        for block in iter(lambda: handle.read(_BLOCK_BYTES), b""):
            if b'"' in block or b"\n\n" in previous + block or b"\n\r\n" in previous + block:
                return False
            previous = block[-2:]
    return True


def _csv_chunks(path: Path, names: list[str], size: int) -> Iterator[Chunk]:
    if _one_record_per_line(path):
        yield from _arrow_chunks(path, names, size)
    else:
        yield from _record_chunks(path, names, size)


def _arrow_chunks(path: Path, names: list[str], size: int) -> Iterator[Chunk]:
    """pyarrow's streaming parse; malformed lines are reported by number and skipped."""
    malformed: list[Rejection] = []
    width = len(names)

    def invalid(row: pacsv.InvalidRow) -> str:
        malformed.append(_malformed(int(row.number or 0), row.text, width, row.actual_columns))
        return "skip"

    reader = pacsv.open_csv(
        pa.input_stream(str(path), compression="detect"),
        read_options=pacsv.ReadOptions(use_threads=False, block_size=_BLOCK_BYTES),
        parse_options=pacsv.ParseOptions(invalid_row_handler=invalid),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False
        ),
    )
    line = 2  # the first line not yet given to a record
    held: pa.Table | None = None

    def numbered(table: pa.Table, final: bool = False) -> Chunk:
        nonlocal line
        skipped = np.array(sorted(r.row for r in malformed if r.row >= line), dtype=np.int64)
        lines = np.arange(line, line + table.num_rows, dtype=np.int64)
        while skipped.size:  # the k-th record is on the k-th line that is not malformed
            moved = line + np.arange(table.num_rows) + np.searchsorted(skipped, lines, "right")
            if np.array_equal(moved, lines):
                break
            lines = moved
        line = int(lines[-1]) + 1 if table.num_rows else line
        bad = [r for r in malformed if final or r.row < line]
        malformed[:] = [r for r in malformed if not final and r.row >= line]
        return {name: table.column(name) for name in table.column_names}, lines, bad

    for batch in reader:
        table = pa.Table.from_batches([batch], schema=reader.schema)
        held = table if held is None else pa.concat_tables([held, table])
        while held.num_rows >= size:
            yield numbered(held.slice(0, size).combine_chunks())
            held = held.slice(size)
    rest = held if held is not None else reader.schema.empty_table()
    if rest.num_rows or malformed:
        yield numbered(rest.combine_chunks(), final=True)


def _record_chunks(path: Path, names: list[str], size: int) -> Iterator[Chunk]:
    """Record by record with the csv module, for quoted fields and blank lines."""
    width = len(names)
    with _open_text(path) as handle:
        reader = csv.reader(handle)
        next(reader, None)
        end = reader.line_num
        records: list[list[str]] = []
        starts: list[int] = []
        malformed: list[Rejection] = []
        for record in reader:
            start, end = end + 1, reader.line_num
            if not record:
                continue
            if len(record) != width:
                malformed.append(_malformed(start, ",".join(record), width, len(record)))
                continue
            records.append(record)
            starts.append(start)
            if len(records) == size:
                yield _record_chunk(names, records, starts, malformed)
                records, starts, malformed = [], [], []
        if records or malformed:
            yield _record_chunk(names, records, starts, malformed)


def _record_chunk(
    names: list[str], records: list[list[str]], starts: list[int], malformed: list[Rejection]
) -> Chunk:
    columns = list(zip(*records, strict=True)) if records else [() for _ in names]
    cells = {
        name: pa.chunked_array([pa.array(list(col), type=pa.string())])
        for name, col in zip(names, columns, strict=True)
    }
    return cells, np.asarray(starts, dtype=np.int64), malformed


def _malformed(line: int, text: str, width: int, found: int) -> Rejection:
    return Rejection(
        row=line,
        field="*",
        value=text,
        reason=RejectReason.MALFORMED_ROW,
        detail=f"expected {width} fields, found {found}",
    )
