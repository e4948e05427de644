"""A tick table's chunks appended to their series, as tick ingest appends a file's.

Per instrument of a chunk: the rows are validated by the tick rules (``validate_ticks``,
with a cursor per instrument carried from chunk to chunk, so order, sequence and duplicate
rules see across chunk ends), judged against the series (``judge_against_catalog``: a row
the catalog holds is present, a row after the series' last tick is new, any other row is
refused with the reason), the new rows staged with ``F_LAST`` on each event's last delta and
committed with their lineage record in one catalog transaction, and both digests taken: of
the rows kept (new and present) as the source gave them, and of the catalog's rows at their
timestamps as it returns them. A chunk never splits an instant (the source's rule), so a
book event's deltas are always committed together.

The digest (``tick_digests``) covers the timestamp and every field the table gives, bit for
bit, row by row in stored order; not a delta's flags, which the migration sets itself.
"""

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from quantdesk.domain.market_data import LineageRecord, Rejection, ValueBounds
from quantdesk.domain.migration import Watermark
from quantdesk.domain.ticks import TickKind
from quantdesk.services.columns import Int64Array
from quantdesk.services.migration_chunks import (
    ChunkContext,
    ChunkOutcome,
    Instruments,
    defined,
)
from quantdesk.services.ports.catalog import StagedCommit
from quantdesk.services.ports.table_sources import (
    DayWindow,
    TableChunk,
    TableSnapshot,
    TickChunk,
)
from quantdesk.services.ports.ticks import TickAppend, TickCatalog, TickStore
from quantdesk.services.tick_batches import (
    judge_against_catalog,
    mark_event_ends,
    merged_inside,
    without,
)
from quantdesk.services.tick_columns import TickColumns
from quantdesk.services.tick_digests import tick_digest
from quantdesk.services.tick_validation import TickCursor, validate_ticks


@dataclass
class TickWriter:
    """``ChunkWriter`` for trade-tick, quote-tick and order-book-delta tables."""

    store: TickStore
    reads: TickCatalog
    kind: TickKind
    instrument: Instruments
    bounds: ValueBounds

    def __post_init__(self) -> None:
        self._cursors: dict[str, TickCursor] = {}

    def chunks(
        self, snapshot: TableSnapshot, *, after: Watermark | None, days: DayWindow | None
    ) -> Iterator[TickChunk]:
        return snapshot.tick_chunks(after=after, days=days)

    def new_read(self) -> Counter[str]:
        ended = Counter(w.kind.value for c in self._cursors.values() for w in c.book.finish())
        self._cursors = {}
        return ended

    def commit(self, chunk: TableChunk, context: ChunkContext) -> ChunkOutcome:
        assert isinstance(chunk, TickChunk)  # what ``chunks`` reads
        outcome = ChunkOutcome(rejections=list(chunk.rejections))
        for part, instrument_id, raw, spec in defined(chunk.ticks, self.instrument, outcome):
            cursor = self._cursors.setdefault(instrument_id, TickCursor())
            validated = validate_ticks(raw, spec, cursor, bounds=self.bounds)
            outcome.rejections.extend([*raw.malformed, *validated.rejections])
            outcome.warnings.update(w.kind.value for w in validated.warnings)
            ticks, rows = validated.ticks, validated.source_row
            started = context.now()
            with self.store.appending(self.kind, spec) as append:
                judged = _judged(ticks, rows, append, context.remigrated_day is not None)
                if judged.written:
                    counts = (len(raw) + len(raw.malformed), judged.written, judged.present)
                    lineage = self._lineage(
                        context, part, instrument_id, judged.committed, counts, started
                    )
                    append.commit(lineage)
            outcome.rejections.extend(judged.rejections)
            outcome.written += judged.written
            outcome.present += judged.present
            refused = np.isin(rows, np.array([r.row for r in judged.rejections], dtype=np.int64))
            kept = ticks.take(~refused)
            outcome.source.update(tick_digest(instrument_id, kept).encode())
            back = without(self._read_back(instrument_id, kept), judged.left)
            outcome.catalog.update(tick_digest(instrument_id, back).encode())
        return outcome

    def _lineage(
        self,
        context: ChunkContext,
        part: int,
        instrument_id: str,
        new: TickColumns,
        counts: tuple[int, int, int],
        started: int,
    ) -> Callable[[StagedCommit], LineageRecord]:
        def lineage(commit: StagedCommit) -> LineageRecord:
            return context.lineage(
                part=part,
                instrument_id=instrument_id,
                series=instrument_id,  # a tick series is its instrument's
                data_type=self.kind.value,
                source_sha256=tick_digest(instrument_id, new),
                counts=counts,
                span=(int(new.ts_ns[0]), int(new.ts_ns[-1])),
                files=(commit.files_added, commit.files_replaced),
                started=started,
            )

        return lineage

    def _read_back(self, instrument_id: str, kept: TickColumns) -> TickColumns:
        """The catalog's rows at the timestamps of ``kept``, in stored order."""
        if not len(kept):
            return kept
        held = self.reads.read_ticks(
            self.kind, instrument_id, int(kept.ts_ns[0]), int(kept.ts_ns[-1])
        )
        return held.take(np.isin(held.ts_ns, kept.ts_ns))


@dataclass(frozen=True, eq=False)
class _Staged:
    """What one instrument's rows of a chunk did to its series (staged, not committed)."""

    committed: TickColumns  # the rows staged from the source, in their order
    written: int
    present: int
    rejections: list[Rejection]
    left: TickColumns  # rows of the series beside them that the table no longer gives


def _judged(ticks: TickColumns, rows: Int64Array, append: TickAppend, late: bool) -> _Staged:
    """Stage the new rows; on a late day's re-read, the rows inside the stored span also
    take their place in it (``tick_batches.merged_inside``), all but a trade id the series
    holds with other values."""
    judged = judge_against_catalog(ticks, rows, append, append.last_sequence)
    span = append.span
    if not (late and judged.missing and span is not None):
        new = mark_event_ends(ticks.take(judged.new))
        append.stage(new)
        left = TickColumns.empty(ticks.kind)
        return _Staged(new, len(new), judged.present, judged.rejections, left)
    inside = ticks.ts_ns <= span[1]
    inside[judged.changed] = False  # a trade id the series holds otherwise: never overwritten
    ours = ticks.take(inside)
    start, end = int(ours.ts_ns[0]), int(ours.ts_ns[-1])
    held = append.held(start, end)
    merged, left = merged_inside(ours, held)
    append.replace(start, end, mark_event_ends(merged))
    new = mark_event_ends(ticks.take(judged.new & ~inside))
    append.stage(new)
    placed = set(rows[judged.missing].tolist())
    kept = [r for r in judged.rejections if r.row not in placed]
    present = len(held) - len(left)
    written = len(ours) - present + len(new)
    committed = TickColumns.concat(ticks.kind, [ours, new])
    return _Staged(committed, written, present, kept, left)
