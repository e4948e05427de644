"""A chunk of a bars table as ``RawBarColumns``, one per instrument, for the shared validation.

The cells come as the driver gives them (``datetime``, ``Decimal``, ``int``, ``None``, text);
they become what a bar file's reader produces: nanosecond timestamps with a status per cell
(the same parsing as CSV ingest: a naive time without a declared zone is refused, a time out
of range is refused), float values with NaN for a cell that is not a number, and the cell's
own text for a rejection to quote. Rows are numbered from ``chunk.first_row`` in the read's
order. A row whose instrument the mapping does not name is rejected here
(``instrument_unmapped``), never dropped.
"""

import operator
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa

from quantdesk.adapters.sources.bar_cells import parse_timestamps, to_float
from quantdesk.domain.market_data import BarIngestOptions, Rejection, RejectReason, TimestampFormat
from quantdesk.domain.source_mapping import SourceKind, SourceMapping
from quantdesk.services.columns import VALUE_FIELDS, BarColumns, RawBarColumns, TimestampStatus

Cell = object
"""A cell as the driver gives it (str, int, float, Decimal, datetime, None)."""


class OutOfRangeTime(str):
    """A SQL time no ``datetime`` holds (infinity, before year 1, after 9999), as its text:
    rejected as out of range, quoted as the table wrote it."""


@dataclass(frozen=True)
class SourceChunk:
    """``columns[c][i]`` is row ``i``'s cell of column ``c`` (``mapping.selected()`` order);
    ``first_row`` numbers the chunk's first row in the whole read (1-based), for rejections."""

    columns: dict[str, Sequence[Cell]]
    first_row: int

    def __len__(self) -> int:
        first = next(iter(self.columns.values()), [])
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
    for instrument in sorted({x for x in instruments if x is not None}):
        chosen = [i for i, x in enumerate(instruments) if x == instrument]
        out[instrument] = _raw(chunk, mapping, chosen, rows)
    return out, rejected


def _instruments(
    chunk: SourceChunk, mapping: SourceMapping, rows: np.ndarray
) -> tuple[list[str | None], list[Rejection]]:
    source = mapping.instrument
    if source.instrument_id is not None:
        return [source.instrument_id] * len(chunk), []
    assert source.column is not None  # the mapping's rule: one or the other
    found: list[str | None] = []
    rejected: list[Rejection] = []
    for index, cell in enumerate(chunk.columns[source.column]):
        text = None if cell is None else str(cell)
        mapped = source.ids.get(text, None if source.ids else text) if text else None
        found.append(mapped)
        if mapped is None:
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


def _raw(
    chunk: SourceChunk, mapping: SourceMapping, chosen: list[int], rows: np.ndarray
) -> RawBarColumns:
    every = len(chosen) == len(chunk)  # one instrument: its cells are the chunk's own lists
    cells = {
        field: _pick(chunk.columns[mapping.column_of(field)], chosen, every)
        for field in ("timestamp", *VALUE_FIELDS)
    }
    ts_ns, status = parse_timestamps(*_timestamps(cells["timestamp"], mapping))
    beyond = [isinstance(c, OutOfRangeTime) for c in cells["timestamp"]]
    status[np.asarray(beyond, dtype=np.bool_)] = TimestampStatus.OUT_OF_RANGE
    values = {f: to_float(pa.chunked_array([_numbers(cells[f])])) for f in VALUE_FIELDS}

    def text_of(field: str, index: int) -> str:
        return _text(cells[field][index])

    return RawBarColumns(
        source_row=rows[chosen],
        ts_ns=ts_ns,
        ts_status=status,
        values=BarColumns(ts_ns=ts_ns, **values),
        text_of=text_of,
    )


def _pick(column: Sequence[Cell], chosen: list[int], every: bool) -> Sequence[Cell]:
    if every:
        return column
    if len(chosen) == 1:
        return [column[chosen[0]]]
    return operator.itemgetter(*chosen)(column)  # type: ignore[no-any-return]


def _timestamps(
    cells: Sequence[Cell], mapping: SourceMapping
) -> tuple[pa.ChunkedArray, BarIngestOptions]:
    unit = mapping.timestamp.unit
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


def _utc(stamp: datetime, zone: str | None) -> datetime:
    if stamp.tzinfo is None:
        return stamp if zone is None else stamp.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
    return stamp.astimezone(UTC)


def _numbers(cells: Sequence[Cell]) -> pa.Array:
    """Numbers as they are (the driver's floats and integers), anything else as its text
    (a Decimal's exact digits, a text column's own): the bar reader's rules apply."""
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
