"""A chunk of a bars table as ``RawBarColumns``, one per instrument, for the shared validation.

The cells come as Python objects (``datetime``, ``Decimal``, ``int``, ``None``, text) or as
the Arrow columns a columnar driver reads (then nothing is done per cell but for a rejected
one); they become what a bar file's reader produces: nanosecond timestamps with a status per
cell (the same parsing as CSV ingest: a naive time without a declared zone is refused, a time out
of range is refused), float values with NaN for a cell that is not a number, and the cell's
own text for a rejection to quote. Rows are numbered from ``chunk.first_row`` in the read's
order. A row whose instrument the mapping does not name is rejected here
(``instrument_unmapped``), never dropped.
"""

import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeAlias
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from quantdesk.adapters.sources.bar_cells import parse_timestamps, to_float
from quantdesk.domain.market_data import BarIngestOptions, Rejection, RejectReason, TimestampFormat
from quantdesk.domain.source_mapping import SourceKind, SourceMapping
from quantdesk.services.columns import VALUE_FIELDS, BarColumns, RawBarColumns, TimestampStatus

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


_FORMATS = {
    "s": TimestampFormat.SECONDS,
    "ms": TimestampFormat.MILLISECONDS,
    "us": TimestampFormat.MICROSECONDS,
    "ns": TimestampFormat.NANOSECONDS,
}


def raw_bars(
    chunk: SourceChunk, mapping: SourceMapping
) -> tuple[dict[str, RawBarColumns], list[Rejection]]:
    """The chunk's bars per catalog instrument id, and the rows of no mapped instrument."""
    if mapping.kind is not SourceKind.BARS:
        raise ValueError(f"raw_bars reads bars, not {mapping.kind.value}")
    n = len(chunk)
    rows = np.arange(chunk.first_row, chunk.first_row + n, dtype=np.int64)
    instruments, rejected = _instruments(chunk, mapping, rows)
    out: dict[str, RawBarColumns] = {}
    for instrument in sorted({x for x in instruments.tolist() if x is not None}):
        chosen = np.flatnonzero(instruments == instrument)
        out[instrument] = _raw(chunk, mapping, chosen, rows)
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
                value=_text(cell),
                reason=RejectReason.INSTRUMENT_UNMAPPED,
                detail=f"column {source.column} holds {_text(cell)}, which the mapping's "
                "ids do not name",
            )
        )
    return found, rejected


def _instrument(text: str | None, ids: Mapping[str, str]) -> str | None:
    """The catalog id of an instrument column's text (the text itself when no ids are
    given); None for no text or one the ids do not name."""
    return ids.get(text, None if ids else text) if text else None


def _raw(
    chunk: SourceChunk, mapping: SourceMapping, chosen: np.ndarray, rows: np.ndarray
) -> RawBarColumns:
    every = len(chosen) == len(chunk)  # one instrument: its cells are the chunk's own lists
    cells = {
        field: _pick(chunk.columns[mapping.column_of(field)], chosen, every)
        for field in ("timestamp", *VALUE_FIELDS)
    }
    ts_ns, status = parse_timestamps(*_timestamps(cells["timestamp"], mapping))
    beyond: pa.Array | None = chunk.beyond
    if beyond is not None and not every:
        beyond = beyond.take(pa.array(chosen))
    if beyond is not None:
        status[np.asarray(beyond.is_valid().to_numpy(zero_copy_only=False))] = (
            TimestampStatus.OUT_OF_RANGE
        )
    values = {f: to_float(pa.chunked_array([_numbers(cells[f])])) for f in VALUE_FIELDS}

    def text_of(field: str, index: int) -> str:
        if field == "timestamp" and beyond is not None and beyond[index].is_valid:
            return str(beyond[index].as_py())
        return _text(_cell(cells[field], index))

    return RawBarColumns(
        source_row=rows[chosen],
        ts_ns=ts_ns,
        ts_status=status,
        values=BarColumns(ts_ns=ts_ns, **values),
        text_of=text_of,
    )


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


def _numbers(cells: Column) -> pa.Array:
    """Numbers as they are (the driver's floats and integers), anything else as its text
    (a Decimal's exact digits, a text column's own): the bar reader's rules apply."""
    if isinstance(cells, pa.Array):
        return cells
    if set(map(type, cells)) <= _NUMBER_TYPES:
        return pa.array(cells, pa.float64())
    return pa.array([None if c is None else str(c) for c in cells], pa.string())


_NUMBER_TYPES = {float, int, type(None)}


def _text(cell: Cell) -> str:
    """A cell as a rejection quotes it; a whole double as the integer it is (-1, not -1.0)."""
    if cell is None:
        return "NULL"
    if isinstance(cell, float) and cell.is_integer() and abs(cell) < 1e16:
        return str(int(cell))
    return str(cell)[:200]
