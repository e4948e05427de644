"""One migration run's chunk loop: late days, then new rows, a checkpoint after each chunk.

The loop is the same for every kind of table; what a chunk's rows become is a
``ChunkWriter``'s: bars are merged into their series (``BarWriter``, here), ticks appended
to theirs (``migration_ticks.TickWriter``). A writer validates each instrument's rows as
file ingest does, commits them with a lineage record, and returns the digest of the valid
rows as read from the source beside the digest of the same rows as the catalog returns
them: unequal, the run stops before its checkpoint (see ``migrations``).
"""

import hashlib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import numpy as np

import quantdesk
from quantdesk.domain.errors import CatalogError
from quantdesk.domain.instruments import InstrumentSpec
from quantdesk.domain.market_data import (
    BarSpec,
    CatalogFile,
    LineageRecord,
    MigrationLineage,
    Rejection,
    RejectReason,
    bar_type_id,
)
from quantdesk.domain.migration import (
    ChunkCheckpoint,
    ChunkRecord,
    MigrationCheckpoint,
    MigrationRun,
    Watermark,
)
from quantdesk.domain.source_mapping import SourceMapping
from quantdesk.services.bar_batches import bars_digest, commit_new_bars
from quantdesk.services.bar_validation import validate_bars
from quantdesk.services.columns import BarColumns, Int64Array
from quantdesk.services.ports import MarketDataCatalog, ProgressReporter, StagedCommit
from quantdesk.services.ports.migrations import MigrationStore
from quantdesk.services.ports.table_sources import (
    BarChunk,
    DayWindow,
    TableChunk,
    TableSnapshot,
)

LATE_TASK = "re-read days with late rows"  # units: days
NEW_TASK = "migrate new rows"  # units: rows
Instruments = Callable[[str], InstrumentSpec | None]


@dataclass(frozen=True)
class ChunkContext:
    """What a chunk's lineage records: the run, the read and where the chunk ends."""

    run: MigrationRun
    mapping: SourceMapping
    mapping_sha256: str
    query: str
    chunk: int
    watermark: Watermark | None
    engine_version: str
    now: Callable[[], int]
    remigrated_day: int | None = None  # a late day's re-read: the table grew in it

    def lineage(
        self,
        *,
        part: int,
        instrument_id: str,
        series: str,
        data_type: str,
        source_sha256: str,
        counts: tuple[int, int, int],
        span: tuple[int, int],
        files: tuple[list[CatalogFile], list[str]],
        started: int,
    ) -> LineageRecord:
        """The record of one instrument's commit; ``counts`` are (read, written, present)."""
        read, written, present = counts
        return LineageRecord(
            ingest_id=f"{self.run.migration_id}-c{self.chunk:06d}-{part}",
            source=self.run.source,
            source_sha256=source_sha256,
            instrument_id=instrument_id,
            bar_type=series,
            data_type=data_type,
            rows_read=read,
            rows_written=written,
            rows_already_present=present,
            rows_rejected=read - written - present,
            first_ts=span[0],
            last_ts=span[1],
            files_added=files[0],
            files_replaced=files[1],
            quantdesk_version=quantdesk.__version__,
            nautilus_trader_version=self.engine_version,
            started_at_ns=started,
            finished_at_ns=self.now(),
            migration=MigrationLineage(
                migration_id=self.run.migration_id,
                mapping=self.mapping.name,
                mapping_sha256=self.mapping_sha256,
                table=self.mapping.table,
                query=self.query,
                chunk=self.chunk,
                watermark=None if self.watermark is None else str(self.watermark.timestamp),
            ),
        )


@dataclass
class ChunkOutcome:
    """What committing one chunk did, and the digests of its valid rows on both sides."""

    rejections: list[Rejection]
    written: int = 0
    present: int = 0
    warnings: Counter[str] = field(default_factory=Counter)  # kept rows that look wrong
    source: "hashlib._Hash" = field(default_factory=hashlib.sha256)
    catalog: "hashlib._Hash" = field(default_factory=hashlib.sha256)


class ChunkWriter(Protocol):
    """What a kind of table's chunks become in the catalog."""

    def chunks(
        self, snapshot: TableSnapshot, *, after: Watermark | None, days: DayWindow | None
    ) -> Iterator[TableChunk]: ...

    def new_read(self) -> Counter[str]:
        """A read starts (new rows, or a late day's re-read): forget what earlier chunks'
        rows taught the rules, and give the warnings only the end of a read can give (the
        last book event's)."""
        ...

    def commit(self, chunk: TableChunk, context: ChunkContext) -> ChunkOutcome: ...


class ChunkLoop:
    """One run's chunk loop and counts (``run`` is the run as it stands)."""

    def __init__(
        self,
        store: MigrationStore,
        writer: ChunkWriter,
        context: ChunkContext,
        checkpoint: MigrationCheckpoint | None,
    ) -> None:
        self._store = store
        self._writer = writer
        self._context = context
        self.run = context.run
        self._watermark = None if checkpoint is None else checkpoint.watermark
        self._chunks_total = 0 if checkpoint is None else checkpoint.chunks

    @property
    def _mapping(self) -> SourceMapping:
        return self._context.mapping

    def late_rows(self, snapshot: TableSnapshot, progress: ProgressReporter) -> None:
        if self._watermark is None:
            return
        held = self._store.days(self._mapping.name)
        now = snapshot.day_counts(self._watermark)
        grown = sorted(day for day, rows in now.items() if rows > held.get(day, 0))
        shrunk = sorted(day for day, rows in held.items() if now.get(day, 0) < rows)
        self.run = self.run.model_copy(update={"late_days": grown, "shrunk_days": shrunk})
        if not grown and not shrunk:
            return
        query = snapshot.query_text(None)
        with progress.task(LATE_TASK, len(grown)) as advance:
            for day in grown:
                self._warn(self._writer.new_read())
                for chunk in self._writer.chunks(snapshot, after=None, days=DayWindow(day, day)):
                    self._commit(chunk, query, days_added={}, remigrated_day=day)
                self._store.set_days(self._mapping.name, {day: now[day]})
                advance(1)
        if shrunk:
            self._store.set_days(self._mapping.name, {day: now.get(day, 0) for day in shrunk})

    def new_rows(self, snapshot: TableSnapshot, progress: ProgressReporter) -> None:
        query = snapshot.query_text(self._watermark)
        total = snapshot.count(self._watermark)
        self._warn(self._writer.new_read())
        with progress.task(NEW_TASK, total=total) as advance:
            for chunk in self._writer.chunks(snapshot, after=self._watermark, days=None):
                if chunk.last is not None:
                    self._watermark = chunk.last
                self._commit(chunk, query, days_added=dict(chunk.days), remigrated_day=None)
                advance(chunk.rows)
        self._warn(self._writer.new_read())

    def _warn(self, warnings: Counter[str]) -> None:
        if warnings:
            total = Counter(self.run.warnings_by_kind) + warnings
            self.run = self.run.model_copy(update={"warnings_by_kind": dict(sorted(total.items()))})

    def _commit(
        self,
        chunk: TableChunk,
        query: str,
        *,
        days_added: dict[int, int],
        remigrated_day: int | None,
    ) -> None:
        self._chunks_total += 1
        number = self.run.chunks + 1
        context = ChunkContext(
            run=self.run,
            mapping=self._mapping,
            mapping_sha256=self._context.mapping_sha256,
            query=query,
            chunk=number,
            watermark=chunk.last,
            engine_version=self._context.engine_version,
            now=self._context.now,
            remigrated_day=remigrated_day,
        )
        outcome = self._writer.commit(chunk, context)
        if outcome.source.digest() != outcome.catalog.digest():
            raise CatalogError(
                f"migration {self.run.migration_id} chunk {number}: the rows read back from "
                "the catalog differ from the rows read from the source; the checkpoint was "
                "not advanced",
                hint="run data verify to see the days that differ",
                code="chunk_digest_mismatch",
                data={"migration_id": self.run.migration_id, "chunk": number},
            )
        rejections = sorted(outcome.rejections, key=lambda r: r.row)
        now = self._context.now()
        record = ChunkRecord(
            migration_id=self.run.migration_id,
            chunk=number,
            first_row=chunk.first_row,
            rows_read=chunk.rows,
            rows_written=outcome.written,
            rows_present=outcome.present,
            rows_rejected=len(rejections),
            watermark=self._watermark,
            source_sha256=outcome.source.hexdigest(),
            catalog_sha256=outcome.catalog.hexdigest(),
            remigrated_day=remigrated_day,
            committed_ns=now,
        )
        self.run = self.run.model_copy(
            update={
                "rows_read": self.run.rows_read + chunk.rows,
                "rows_written": self.run.rows_written + outcome.written,
                "rows_present": self.run.rows_present + outcome.present,
                "rows_rejected": self.run.rows_rejected + len(rejections),
                "chunks": number,
                "watermark": self._watermark,
            }
        )
        self._warn(outcome.warnings)
        checkpoint = MigrationCheckpoint(
            mapping_name=self._mapping.name,
            mapping_sha256=self._context.mapping_sha256,
            watermark=self._watermark,
            migration_id=self.run.migration_id,
            chunks=self._chunks_total,
            updated_ns=now,
        )
        self._store.save_chunk(
            self.run,
            ChunkCheckpoint(
                record=record,
                checkpoint=checkpoint,
                rejections=rejections,
                days_added=days_added,
            ),
        )


class BarWriter:
    """A bars table's chunks merged into their series (``commit_new_bars``)."""

    def __init__(self, catalog: MarketDataCatalog, instrument: Instruments, spec: BarSpec) -> None:
        self._catalog = catalog
        self._instrument = instrument
        self._spec = spec

    def chunks(
        self, snapshot: TableSnapshot, *, after: Watermark | None, days: DayWindow | None
    ) -> Iterator[BarChunk]:
        return snapshot.bar_chunks(after=after, days=days)

    def new_read(self) -> Counter[str]:
        """Bars carry nothing from chunk to chunk, and give no warnings."""
        return Counter()

    def commit(self, chunk: TableChunk, context: ChunkContext) -> ChunkOutcome:
        assert isinstance(chunk, BarChunk)  # what ``chunks`` reads
        catalog = self._catalog
        outcome = ChunkOutcome(rejections=list(chunk.rejections))
        for part, instrument_id, raw, spec in defined(chunk.bars, self._instrument, outcome):
            validated = validate_bars(raw, spec, bounds=catalog.value_bounds)
            outcome.rejections.extend([*raw.malformed, *validated.rejections])
            bar_type = bar_type_id(instrument_id, self._spec)
            rows_read = len(raw) + len(raw.malformed)
            started = context.now()
            written_sha: list[str] = []  # the lineage's digest of the rows written

            def lineage(
                new: BarColumns,
                present: int,
                conflicts: list[Rejection],
                commit: StagedCommit,
                part: int = part,
                instrument_id: str = instrument_id,
                bar_type: str = bar_type,
                rows_read: int = rows_read,
                started: int = started,
                written_sha: list[str] = written_sha,
            ) -> LineageRecord:
                written_sha.append(bars_digest(instrument_id, new))
                return context.lineage(
                    part=part,
                    instrument_id=instrument_id,
                    series=bar_type,
                    data_type="bar",
                    source_sha256=written_sha[-1],
                    counts=(rows_read, len(new), present),
                    span=(int(new.ts_ns[0]), int(new.ts_ns[-1])),
                    files=(commit.files_added, commit.files_replaced),
                    started=started,
                )

            done = commit_new_bars(catalog, validated, spec, bar_type, lineage)
            outcome.rejections.extend(done.conflicts)
            outcome.written += len(done.written)
            outcome.present += done.present
            # nothing was present: the rows kept are the rows written, digested already
            same = written_sha[-1] if written_sha and not done.present else None
            outcome.source.update((same or bars_digest(instrument_id, done.kept)).encode())
            back = _read_back(catalog, bar_type, done.kept)
            outcome.catalog.update(bars_digest(instrument_id, back).encode())
        return outcome


def _read_back(catalog: MarketDataCatalog, bar_type: str, kept: BarColumns) -> BarColumns:
    """The catalog's rows at the timestamps of ``kept`` (what it now returns for them)."""
    if len(kept) == 0:
        return kept
    held = catalog.read_bars(bar_type, int(kept.ts_ns[0]), int(kept.ts_ns[-1]))
    at = np.searchsorted(kept.ts_ns, held.ts_ns)  # kept is in time order: no sort, as isin's
    return held.take(kept.ts_ns[np.minimum(at, len(kept) - 1)] == held.ts_ns)


class _Raw(Protocol):
    """A chunk's rows of one instrument, bars or ticks, before any rule."""

    @property
    def source_row(self) -> Int64Array: ...

    @property
    def malformed(self) -> list[Rejection]: ...


Raw = TypeVar("Raw", bound=_Raw)


def defined(
    raws: Mapping[str, Raw], instrument: Instruments, outcome: ChunkOutcome
) -> Iterator[tuple[int, str, Raw, InstrumentSpec]]:
    """Each instrument's rows in id order with its definition, numbered as the lineage
    numbers its parts; the rows of an instrument the catalog does not define (a column's own
    value, no ids to map it) go to the outcome's rejections instead."""
    for part, instrument_id in enumerate(sorted(raws)):
        raw = raws[instrument_id]
        spec = instrument(instrument_id)
        if spec is None:
            outcome.rejections.extend(_undefined(raw, instrument_id))
        else:
            yield part, instrument_id, raw, spec


def _undefined(raw: _Raw, instrument_id: str) -> list[Rejection]:
    """The rows of an instrument the catalog does not define, each rejected."""
    return [
        Rejection(
            row=int(row),
            field="instrument",
            value=instrument_id[:200],
            reason=RejectReason.INSTRUMENT_UNMAPPED,
            detail=f"the catalog defines no instrument {instrument_id[:100]}",
        )
        for row in raw.source_row.tolist()
    ] + list(raw.malformed)
