"""CSV and Parquet tick files into columns, a bounded chunk at a time.

CSV goes through the bar reader's streaming machinery (``bar_csv``): a survey pass over the
timestamp column (record count, line numbering, what ``auto`` timestamps are in the whole
file), then pieces of ``chunk_rows`` records with every cell as text and each record
numbered by the line where it starts; a line with the wrong number of fields becomes a
``malformed_row`` rejection. Parquet is read by row batches, its timestamps surveyed first
the same way, so the epoch unit ``auto`` picks never changes between chunks.
"""

import csv
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from quantdesk.adapters.sources import bar_csv
from quantdesk.adapters.sources.bar_cells import (
    TimestampSurvey,
    parse_timestamps,
    text_lookup,
    to_float,
)
from quantdesk.adapters.sources.bar_files import parquet_batches, scalar_column
from quantdesk.adapters.sources.tick_cells import (
    CODE_FIELDS,
    WHOLE_FIELDS,
    to_code,
    to_trade_ids,
    to_whole,
)
from quantdesk.domain.errors import SourceReadError
from quantdesk.domain.market_data import BarIngestOptions, Rejection
from quantdesk.domain.ticks import OPTIONAL_FIELDS, TICK_FIELDS, TickIngestOptions, TickKind
from quantdesk.services.columns import BoolArray
from quantdesk.services.tick_columns import FIELD_DTYPES, AnyArray, RawTicks

_FILE_ERRORS = (pa.ArrowException, csv.Error, UnicodeDecodeError, EOFError, zlib.error, OSError)
SURVEY_ROWS = 1_000_000  # timestamps surveyed at a time (one column: 8 MB)
_READ_HINT = "ticks come as CSV (UTF-8, a header row) or Parquet with scalar columns"


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
    stamps = BarIngestOptions(
        timestamp_format=options.timestamp_format, assume_utc=options.assume_utc
    )
    chunks: Iterator[Chunk]
    if _is_parquet(path):
        parquet = pq.ParquetFile(path)
        wanted = _columns(path, kind, options, parquet.schema_arrow.names)
        stamps = _survey_parquet(parquet, wanted["timestamp"], stamps)
        chunks = _parquet_chunks(parquet, wanted, options.chunk_rows)
    else:
        names = bar_csv.header(path)
        wanted = _columns(path, kind, options, names)
        layout = bar_csv.survey(path, names, wanted["timestamp"], stamps)
        stamps = layout.options
        chunks = (
            (_csv_cells(piece.table, wanted["timestamp"]), piece.rows, piece.malformed)
            for piece in bar_csv.pieces(path, layout, list(wanted.values()), options.chunk_rows)
        )
    for cells, rows, malformed in chunks:
        yield _convert(kind, options, wanted, cells, rows, malformed, stamps)


def _csv_cells(table: pa.Table, timestamp: str) -> dict[str, pa.ChunkedArray]:
    """A CSV piece's cells by column, its null spellings ("", "NA"...) in the timestamp column
    as null, as the survey of the whole column saw them (Parquet text is taken as it is)."""
    cells = {name: table.column(name) for name in table.column_names}
    cells[timestamp] = bar_csv.timestamp_text(cells[timestamp])
    return cells


def _survey_parquet(
    parquet: pq.ParquetFile, column: str, options: BarIngestOptions
) -> BarIngestOptions:
    survey = TimestampSurvey(options)
    if survey.needed:
        for batch in parquet_batches(parquet, [column], SURVEY_ROWS):
            survey.add(scalar_column(batch.column(0)))
    return survey.resolve(options)


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
            values[field] = to_float(column)
    return RawTicks(
        kind=kind,
        source_row=np.asarray(rows, dtype=np.int64),
        ts_ns=ts_ns,
        ts_status=status,
        values=values,
        unparsed=unparsed,
        text_of=text_lookup(own),
        malformed=malformed,
    )


def _parquet_chunks(parquet: pq.ParquetFile, wanted: dict[str, str], size: int) -> Iterator[Chunk]:
    first = 1
    for batch in parquet_batches(parquet, sorted(set(wanted.values())), size):
        cells = {name: scalar_column(batch.column(name)) for name in batch.schema.names}
        yield cells, np.arange(first, first + batch.num_rows, dtype=np.int64), []
        first += batch.num_rows
