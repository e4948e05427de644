"""``data verify``: the migrated range compared on both sides, instrument by UTC day.

The migrated range is every row of the mapping at or before its watermark. The source side
is read again in one snapshot, chunk by chunk, and judged exactly as the migration judged it
(the same validation), so its *valid* rows are what the catalog should hold. The catalog
side is every bar (or tick) of the mapped series over the same days, read a window of days
(ticks: a row group) at a time. For each (instrument, UTC day of the row's timestamp) both
sides give a row count and a digest of their rows in time order (``update_digest``:
timestamp and five values, bit for bit; for ticks ``update_tick_digest``: every field but a
delta's flags, in stored order). A day differs when either differs: a row missing, added,
changed in the catalog, or changed in the source after it was migrated (an in-place update
keeps its day's count, which is why only this check can see it). Memory stays bounded by a
chunk, a window (a row group) and one running digest per (instrument, day).
"""

import hashlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol, Self, TypeVar

import numpy as np

from quantdesk.domain.instruments import InstrumentSpec
from quantdesk.domain.market_data import BarSpec, bar_type_id
from quantdesk.domain.migration import DayCheck, VerifyReport, Watermark
from quantdesk.domain.source_mapping import SourceMapping
from quantdesk.services.bar_batches import Digest, update_digest
from quantdesk.services.bar_validation import validate_bars
from quantdesk.services.columns import BoolArray, Int64Array, RawBarColumns
from quantdesk.services.ports import MarketDataCatalog, ProgressReporter
from quantdesk.services.ports.table_sources import BarChunk, TableSnapshot, TickChunk
from quantdesk.services.ports.ticks import TickCatalog
from quantdesk.services.tick_columns import RawTicks
from quantdesk.services.tick_digests import update_tick_digest
from quantdesk.services.tick_validation import TickCursor, validate_ticks

NS_PER_DAY = 86_400 * 1_000_000_000
WINDOW_DAYS = 7  # catalog reads: a week of one series at a time
_EMPTY = hashlib.sha256().hexdigest()
SOURCE_TASK = "verify the source"  # units: rows
CATALOG_TASK = "verify the catalog"  # units: instruments


@dataclass
class _Day:
    rows: int = 0
    digest: "hashlib._Hash" = field(default_factory=hashlib.sha256)


Side = dict[tuple[str, int], _Day]


class _Rows(Protocol):
    """Bars or ticks: time-ordered rows that can be cut."""

    @property
    def ts_ns(self) -> Int64Array: ...

    def __len__(self) -> int: ...

    def take(self, selector: BoolArray | Int64Array) -> Self: ...


R = TypeVar("R", bound=_Rows)
Feed = Callable[[Digest, R], None]


def verify_range(
    catalog: MarketDataCatalog,
    snapshot: TableSnapshot,
    mapping: SourceMapping,
    instrument: Callable[[str], InstrumentSpec | None],
    watermark: Watermark,
    source: str,
    progress: ProgressReporter,
    ticks: TickCatalog | None = None,
) -> VerifyReport:
    """The day-by-day comparison of the range up to ``watermark`` (see the module);
    ``ticks`` reads the catalog's side of a tick table."""
    kind = mapping.kind.tick_kind
    source_days, read, rejected = _source_side(
        catalog, snapshot, kind is not None, instrument, watermark, progress
    )
    instruments = sorted({i for i, _ in source_days} | set(mapping.instrument_ids()))
    days = [d for _, d in source_days]
    catalog_days: Side = {}
    if days:
        first, last = min(days), max(days)
        with progress.task(CATALOG_TASK, total=len(instruments)) as advance:
            for instrument_id in instruments:
                if kind is None:
                    assert mapping.bar_spec is not None  # a bars mapping names one
                    series = bar_type_id(instrument_id, BarSpec.parse(mapping.bar_spec))
                    for start, end in _windows(first, last):
                        bars = catalog.read_bars(series, start, end)
                        _add(catalog_days, instrument_id, bars, update_digest)
                else:  # ticks: a row group at a time, however busy a day
                    assert ticks is not None  # the service gives it for a tick table
                    span = (first * NS_PER_DAY, (last + 1) * NS_PER_DAY - 1)
                    for held in ticks.tick_batches(kind, instrument_id, *span):
                        _add(catalog_days, instrument_id, held, update_tick_digest)
                advance(1)
    checks = [
        _check(key, source_days.get(key), catalog_days.get(key))
        for key in sorted(set(source_days) | set(catalog_days))
    ]
    return VerifyReport(
        mapping_name=mapping.name,
        source=source,
        watermark=watermark,
        rows_source=read,
        rows_catalog=sum(d.rows for d in catalog_days.values()),
        rows_rejected=rejected,
        days=checks,
    )


def _source_side(
    catalog: MarketDataCatalog,
    snapshot: TableSnapshot,
    ticks: bool,
    instrument: Callable[[str], InstrumentSpec | None],
    watermark: Watermark,
    progress: ProgressReporter,
) -> tuple[Side, int, int]:
    """Valid rows per (instrument, day), rows read, rows the migration would reject (by the
    bar rules, or the tick rules with a cursor per instrument across chunks)."""
    side: Side = {}
    read = rejected = 0
    cursors: dict[str, TickCursor] = {}
    chunks: Iterator[BarChunk | TickChunk] = (
        snapshot.tick_chunks(through=watermark) if ticks else snapshot.bar_chunks(through=watermark)
    )
    with progress.task(SOURCE_TASK, total=snapshot.count(through=watermark)) as advance:
        for chunk in chunks:
            read += chunk.rows
            rejected += len(chunk.rejections)
            raws: Mapping[str, RawTicks | RawBarColumns] = (
                chunk.ticks if isinstance(chunk, TickChunk) else chunk.bars
            )
            for instrument_id, raw in sorted(raws.items()):
                defined = instrument(instrument_id)
                rejected += len(raw.malformed)
                if defined is None:
                    rejected += len(raw)
                elif isinstance(raw, RawTicks):
                    cursor = cursors.setdefault(instrument_id, TickCursor())
                    valid = validate_ticks(raw, defined, cursor, bounds=catalog.value_bounds)
                    rejected += len(valid.rejections)
                    _add(side, instrument_id, valid.ticks, update_tick_digest)
                else:
                    bars = validate_bars(raw, defined, bounds=catalog.value_bounds)
                    rejected += len(bars.rejections)
                    _add(side, instrument_id, bars.bars, update_digest)
            advance(chunk.rows)
    return side, read, rejected


def _windows(first_day: int, last_day: int) -> Iterator[tuple[int, int]]:
    """``[start_ns, end_ns]`` of each window of days."""
    for start in range(first_day, last_day + 1, WINDOW_DAYS):
        end = min(start + WINDOW_DAYS - 1, last_day)
        yield start * NS_PER_DAY, (end + 1) * NS_PER_DAY - 1


def _add(side: Side, instrument_id: str, rows: R, feed: Feed[R]) -> None:
    """Fold rows (in time order) into their days' counts and running digests."""
    if len(rows) == 0:
        return
    days = rows.ts_ns // NS_PER_DAY
    starts = np.flatnonzero(np.r_[True, days[1:] != days[:-1]])
    ends = np.r_[starts[1:], len(rows)]
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        day = side.setdefault((instrument_id, int(days[start])), _Day())
        day.rows += end - start
        feed(day.digest, rows.take(np.arange(start, end)))


def _check(key: tuple[str, int], source: _Day | None, held: _Day | None) -> DayCheck:
    instrument_id, day = key
    return DayCheck(
        instrument_id=instrument_id,
        day=datetime.fromtimestamp(day * 86_400, tz=UTC).date().isoformat(),
        source_rows=0 if source is None else source.rows,
        catalog_rows=0 if held is None else held.rows,
        source_sha256=_EMPTY if source is None else source.digest.hexdigest(),
        catalog_sha256=_EMPTY if held is None else held.digest.hexdigest(),
    )


def instrument_lookup(
    catalog: MarketDataCatalog, mapping: SourceMapping, known: Mapping[str, InstrumentSpec]
) -> Callable[[str], InstrumentSpec | None]:
    """The definitions a migration validates with: the mapped ones, or (a column's own
    values, no ids) whatever the catalog defines, looked up once."""
    found: dict[str, InstrumentSpec | None] = dict(known)

    def lookup(instrument_id: str) -> InstrumentSpec | None:
        if instrument_id not in found and not mapping.instrument.ids:
            found[instrument_id] = catalog.instrument(instrument_id)
        return found.get(instrument_id)

    return lookup
