"""A chunk of a market-data table as the driver reads it, and what every kind does with it.

The cells come as Python objects (``datetime``, ``Decimal``, ``int``, ``None``, text) or as
the Arrow columns a columnar driver reads (then nothing is done per cell but for a rejected
one). Shared by the bar and tick conversions (``table_bars``, ``table_ticks``): each row's
catalog instrument (a row of none is rejected, ``instrument_unmapped``, never dropped), a
field's cells for the rows of one instrument, nanosecond timestamps with a status per cell
(the same parsing as file ingest: a naive time without a declared zone is refused, a time
out of range is refused), and a cell's own text for a rejection to quote. Rows are numbered
from ``chunk.first_row`` in the read's order.
"""

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeAlias
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from quantdesk.adapters.sources.bar_cells import parse_timestamps
from quantdesk.domain.market_data import BarIngestOptions, Rejection, RejectReason, TimestampFormat
from quantdesk.domain.source_mapping import SourceMapping
from quantdesk.services.columns import Int64Array, TimestampStatus, UInt8Array

Cell = object
"""A cell as the driver gives it (str, int, float, Decimal, datetime, None)."""


Column: TypeAlias = Sequence[Cell] | pa.Array
"""A column of cells, or an Arrow array of them."""


@dataclass(frozen=True)
class SourceChunk:
    """``columns[c][i]`` is row ``i``'s cell of column ``c`` (``mapping.selected()`` order);
    ``first_row`` numbers the chunk's first row in the whole read (1-based), for rejections.
    ``beyond`` (Arrow columns only) holds the text of each SQL time no timestamp holds, NULL
    elsewhere (such a time's own cell is NULL)."""

    columns: dict[str, Column]
    first_row: int
    beyond: pa.Array | None = None

    def __len__(self) -> int:
        first: Column = next(iter(self.columns.values()), [])
        return len(first)


@dataclass(frozen=True)
class InstrumentRows:
    """The rows of one catalog instrument in a chunk: their fields' cells, their row
    numbers, their parsed timestamps, and each cell's text for a rejection."""

    cells: dict[str, Column]
    rows: Int64Array
    ts_ns: Int64Array
    ts_status: UInt8Array
    text_of: Callable[[str, int], str]


def by_instrument(
    chunk: SourceChunk, mapping: SourceMapping
) -> tuple[dict[str, InstrumentRows], list[Rejection]]:
    """The chunk's rows per catalog instrument id, and the rows of no mapped instrument."""
    n = len(chunk)
    rows = np.arange(chunk.first_row, chunk.first_row + n, dtype=np.int64)
    fixed = mapping.instrument.instrument_id
    if fixed is not None:  # every row is about it: no per-row lookup
        every = np.arange(n, dtype=np.int64)
        return ({fixed: _instrument_rows(chunk, mapping, every, rows)} if n else {}), []
    instruments, rejected = _instruments(chunk, mapping, rows)
    out: dict[str, InstrumentRows] = {}
    for instrument in sorted({x for x in instruments.tolist() if x is not None}):
        chosen = np.flatnonzero(instruments == instrument)
        out[instrument] = _instrument_rows(chunk, mapping, chosen, rows)
    return out, rejected


def _instruments(
    chunk: SourceChunk, mapping: SourceMapping, rows: np.ndarray
) -> tuple[npt.NDArray[np.object_], list[Rejection]]:
    """Each row's catalog instrument id (None for a row of none), and those rows rejected."""
    source = mapping.instrument
    if source.instrument_id is not None:
        return np.full(len(chunk), source.instrument_id, dtype=object), []
    assert source.column is not None  # the mapping's rule: one or the other
    cells = chunk.columns[source.column]
    if isinstance(cells, pa.Array):  # each distinct text is looked up once
        encoded = pc.dictionary_encode(cells.cast(pa.string()))
        texts = encoded.dictionary.to_pylist()
        names = np.array([_instrument(t, source.ids) for t in texts], dtype=object)
        codes = encoded.indices.fill_null(len(names)).to_numpy(zero_copy_only=False)
        found = np.concatenate([names, np.array([None], dtype=object)])[codes]
    else:
        found = np.array([_instrument(_cell_text(c), source.ids) for c in cells], dtype=object)
    rejected: list[Rejection] = []
    for index in np.flatnonzero(found == None).tolist():  # noqa: E711 (elementwise)
        cell = _cell(cells, index)
        rejected.append(
            Rejection(
                row=int(rows[index]),
                field="instrument",
                value=quoted(cell),
                reason=RejectReason.INSTRUMENT_UNMAPPED,
                detail=f"column {source.column} holds {quoted(cell)}, which the mapping's "
                "ids do not name",
            )
        )
    return found, rejected


def _instrument(text: str | None, ids: Mapping[str, str]) -> str | None:
    """The catalog id of an instrument column's text (the text itself when no ids are
    given); None for no text or one the ids do not name."""
    return ids.get(text, None if ids else text) if text else None


def _instrument_rows(
    chunk: SourceChunk, mapping: SourceMapping, chosen: np.ndarray, rows: np.ndarray
) -> InstrumentRows:
    every = len(chosen) == len(chunk)  # one instrument: its cells are the chunk's own lists
    cells = {field: _pick(chunk.columns[c], chosen, every) for field, c in mapping.fields().items()}
    ts_ns, status = parse_timestamps(*_timestamps(cells["timestamp"], mapping))
    beyond: pa.Array | None = chunk.beyond
    if beyond is not None and not every:
        beyond = beyond.take(pa.array(chosen))
    if beyond is not None:
        status[np.asarray(beyond.is_valid().to_numpy(zero_copy_only=False))] = (
            TimestampStatus.OUT_OF_RANGE
        )

    def text_of(field: str, index: int) -> str:
        if field == "timestamp" and beyond is not None and beyond[index].is_valid:
            return str(beyond[index].as_py())
        column = cells.get(field)
        return "NULL" if column is None else quoted(_cell(column, index))

    return InstrumentRows(cells, rows[chosen], ts_ns, status, text_of)


def _pick(column: Column, chosen: np.ndarray, every: bool) -> Column:
    if every:
        return column
    if isinstance(column, pa.Array):
        return column.take(pa.array(chosen))
    if len(chosen) == 1:
        return [column[int(chosen[0])]]
    picked: tuple[Cell, ...] = operator.itemgetter(*chosen.tolist())(column)
    return picked


def _cell(column: Column, index: int) -> Cell:
    """One cell as a Python object (Arrow's own conversion for an Arrow column)."""
    return column[index].as_py() if isinstance(column, pa.Array) else column[index]


def _cell_text(cell: Cell) -> str | None:
    return None if cell is None else str(cell)


_FORMATS = {
    "s": TimestampFormat.SECONDS,
    "ms": TimestampFormat.MILLISECONDS,
    "us": TimestampFormat.MICROSECONDS,
    "ns": TimestampFormat.NANOSECONDS,
}


def _timestamps(cells: Column, mapping: SourceMapping) -> tuple[pa.ChunkedArray, BarIngestOptions]:
    unit = mapping.timestamp.unit
    if isinstance(cells, pa.Array):
        return pa.chunked_array([_arrow_times(cells, mapping)]), _options(unit)
    if unit != "timestamp":
        integers = [c if isinstance(c, int) and not isinstance(c, bool) else None for c in cells]
        options = BarIngestOptions(timestamp_format=_FORMATS[unit])
        return pa.chunked_array([pa.array(integers, pa.int64())]), options
    zone = mapping.timestamp.zone
    stamps = [c if isinstance(c, datetime) else None for c in cells]
    naive = any(s is not None and s.tzinfo is None for s in stamps)
    if not naive:  # zone-aware: Arrow takes each instant in UTC itself
        return pa.chunked_array(
            [pa.array(stamps, pa.timestamp("us", tz="UTC"))]
        ), BarIngestOptions()
    utc = [None if s is None else _utc(s, zone) for s in stamps]
    typed = pa.array(
        [None if s is None else s.replace(tzinfo=None) for s in utc], pa.timestamp("us")
    )
    # a naive time with no declared zone: refused as CSV ingest refuses it
    column = typed if zone is None else typed.cast(pa.timestamp("us", tz="UTC"))
    return pa.chunked_array([column]), BarIngestOptions()


def _options(unit: str) -> BarIngestOptions:
    if unit == "timestamp":
        return BarIngestOptions()
    return BarIngestOptions(timestamp_format=_FORMATS[unit])


def _arrow_times(column: pa.Array, mapping: SourceMapping) -> pa.Array:
    """Epoch integers as int64; SQL times as they are when zone-aware (or when no zone is
    declared: refused); naive ones in the declared zone, an ambiguous wall time taken at
    its first occurrence (as ``zoneinfo`` takes it, fold 0)."""
    if mapping.timestamp.unit != "timestamp":
        return column.cast(pa.int64())
    zone = mapping.timestamp.zone
    if column.type.tz is not None or zone is None:
        return column
    try:
        return pc.assume_timezone(column, zone, ambiguous="earliest", nonexistent="raise")
    except pa.ArrowInvalid:  # a wall time the zone skips: zoneinfo's reading, cell by cell
        stamps = [None if s is None else _utc(s, zone) for s in column.to_pylist()]
        return pa.array(stamps, pa.timestamp("us", tz="UTC"))


def _utc(stamp: datetime, zone: str | None) -> datetime:
    if stamp.tzinfo is None:
        return stamp if zone is None else stamp.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
    return stamp.astimezone(UTC)


def numbers(cells: Column) -> pa.ChunkedArray:
    """Numbers as they are (the driver's floats and integers), anything else as its text
    (a Decimal's exact digits, a text column's own): the file readers' rules apply."""
    if isinstance(cells, pa.Array):
        return pa.chunked_array([cells])
    if set(map(type, cells)) <= _NUMBER_TYPES:
        return pa.chunked_array([pa.array(cells, pa.float64())])
    return texts(cells)


def texts(cells: Column) -> pa.ChunkedArray:
    """Cells as Arrow text for the text rules (sides, actions, ids); an Arrow column as it is
    (the rules cast it themselves)."""
    if isinstance(cells, pa.Array):
        return pa.chunked_array([cells])
    return pa.chunked_array([pa.array([None if c is None else str(c) for c in cells], pa.string())])


_NUMBER_TYPES = {float, int, type(None)}


def quoted(cell: Cell) -> str:
    """A cell as a rejection quotes it; a whole double as the integer it is (-1, not -1.0)."""
    if cell is None:
        return "NULL"
    if isinstance(cell, float) and cell.is_integer() and abs(cell) < 1e16:
        return str(int(cell))
    return str(cell)[:200]
