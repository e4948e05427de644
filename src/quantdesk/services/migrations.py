"""Migrating a PostgreSQL table of bars into the catalog: checksummed, incremental, resumable.

A run, in one snapshot of the table:

1. **Late rows.** When the mapping has a watermark, the rows per source day up to it are
   counted and compared with the counts its committed chunks recorded. A day with more rows
   now is re-read whole and goes through the same steps as new rows (the rows the catalog
   holds are recognised as present, the rest is written); a day with fewer is reported (the
   catalog keeps what it has). A row changed in place keeps its day's count: ``verify``
   finds it.
2. **New rows**, strictly after the watermark, a chunk at a time: each instrument's rows are
   validated exactly as a CSV ingest validates them (bad rows rejected with the reason,
   never dropped), committed to the catalog with a lineage record (source without password,
   table, query, watermark), then read back: the digest of the valid rows as read from the
   source must equal the digest of the same rows as the catalog returns them, or the run
   stops before its checkpoint. The checkpoint (watermark, counts, digests, rejected rows,
   rows per source day) is stored in one transaction.

A run killed anywhere resumes from its last checkpoint: a chunk committed to the catalog but
not checkpointed is read again, and its rows are found present, so nothing is written twice
and nothing is skipped. The mapping's content is fixed by its checkpoint: a changed mapping
under the same name is refused until restarted.
"""

import hashlib
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

import numpy as np

import quantdesk
from quantdesk.domain.errors import CatalogError, ConflictError, InvalidInputError, NotFoundError
from quantdesk.domain.instruments import InstrumentSpec
from quantdesk.domain.market_data import (
    BarSpec,
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
    MigrationState,
    VerifyReport,
)
from quantdesk.domain.source_mapping import SourceKind, SourceMapping
from quantdesk.domain.strategies.canonical import canonical_json
from quantdesk.services.bar_batches import LineageOf, bars_digest, commit_new_bars
from quantdesk.services.bar_validation import validate_bars
from quantdesk.services.columns import BarColumns, RawBarColumns
from quantdesk.services.document_models import model_from_document
from quantdesk.services.migration_verify import instrument_lookup, verify_range
from quantdesk.services.ports import (
    MarketDataCatalog,
    ProgressReporter,
    SilentProgress,
    StagedCommit,
)
from quantdesk.services.ports.documents import Document
from quantdesk.services.ports.migrations import MigrationStore
from quantdesk.services.ports.run_locks import ProcessRunLocks, RunLocks
from quantdesk.services.ports.table_sources import (
    BarChunk,
    DayWindow,
    TableSnapshot,
    TableSource,
)

_HINT = "see docs/migration.md for the mapping file's fields"
_URL_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://")
SourceOpener = Callable[[str], TableSource]
LATE_TASK = "re-read days with late rows"  # units: days
NEW_TASK = "migrate new rows"  # units: rows


def mapping_from_document(document: Document) -> SourceMapping:
    """The mapping a document holds; a refused field is named with its line."""
    return model_from_document(
        SourceMapping, document, what="mapping", hint=_HINT, code="invalid_mapping"
    )


def mapping_sha256(mapping: SourceMapping) -> str:
    """Of what decides which rows become which records (the chunk size does not)."""
    content = mapping.model_dump(mode="json", exclude={"chunk_rows"})
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()


def new_migration_id() -> str:
    return f"mig-{datetime.now(tz=UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


class MigrationService:
    """``data migrate`` and its records; ``verify`` lives in :mod:`migration_verify`."""

    def __init__(
        self,
        catalog: MarketDataCatalog,
        store: MigrationStore,
        open_source: SourceOpener,
        clock: Callable[[], int] = time.time_ns,
        sources: Mapping[str, str] | None = None,
        locks: RunLocks | None = None,
    ) -> None:
        self._catalog = catalog
        self._store = store
        self._open_source = open_source
        self._clock = clock
        self._sources = dict(sources or {})
        self._locks = ProcessRunLocks() if locks is None else locks

    def source_names(self) -> list[str]:
        """The sources configuration names (their URLs stay here)."""
        return sorted(self._sources)

    def source_url(self, source: str, *, allow_url: bool) -> str:
        """The URL of a named source, or ``source`` itself when it is a URL and the caller may
        give one (a command line may; a network request may not)."""
        if source in self._sources:
            return self._sources[source]
        if allow_url and source.startswith(_URL_SCHEMES):
            return source
        known = ", ".join(self.source_names()) or "none are configured"
        raise NotFoundError(
            f"no source named {source[:40]!r} (known: {known})"
            if not source.startswith(_URL_SCHEMES)
            else "a source is named here, not given by URL",
            hint="name a source the configuration defines (migration sources)",
            code="source_not_found",
            data={"source": "(a URL)" if "://" in source else source[:40]},
        )

    @property
    def store(self) -> MigrationStore:
        return self._store

    @property
    def catalog(self) -> MarketDataCatalog:
        return self._catalog

    def check(self, mapping: SourceMapping) -> None:
        """What can be refused without the source: a kind not migrated yet, an instrument
        the catalog does not define."""
        if mapping.kind is not SourceKind.BARS:
            raise InvalidInputError(
                f"mapping {mapping.name}: migrating {mapping.kind.value} is not supported yet; "
                "bars are",
                code="migration_kind_unsupported",
                data={"kind": mapping.kind.value},
            )
        self.instruments(mapping)

    def open(self, dsn: str, mapping: SourceMapping) -> TableSource:
        """The source, refused with every reason it cannot be read by this mapping."""
        self.check(mapping)
        source = self._open_source(dsn)
        problems = source.problems(mapping)
        if problems:
            raise InvalidInputError(
                f"mapping {mapping.name} cannot read {source.describe()}: " + "; ".join(problems),
                hint="fix the mapping's table and column names, or the table",
                code="mapping_unreadable",
                data={"mapping": mapping.name},
            )
        return source

    def instruments(self, mapping: SourceMapping) -> dict[str, InstrumentSpec]:
        """The catalog's definitions of the instruments the mapping names (every one must be
        defined before its bars can be validated)."""
        found = {i: self._catalog.instrument(i) for i in mapping.instrument_ids()}
        missing = sorted(i for i, spec in found.items() if spec is None)
        if missing:
            raise NotFoundError(
                f"mapping {mapping.name} names instruments the catalog does not define: "
                + ", ".join(missing),
                hint="define them first (instruments add)",
                code="instrument_not_found",
                data={"instruments": ", ".join(missing)[:500]},
            )
        return {i: spec for i, spec in found.items() if spec is not None}

    def migrate(
        self,
        mapping: SourceMapping,
        dsn: str,
        *,
        actor: str = "cli",
        restart: bool = False,
        progress: ProgressReporter | None = None,
    ) -> MigrationRun:
        """One run: late rows inside the migrated range, then every row after the watermark.
        One run per mapping at a time; a run left *running* by a dead process is marked
        failed by the next."""
        with self._locks.hold(f"migration:{mapping.name}") as taken:
            if not taken:
                raise _running(mapping)
            self._bury(mapping.name)
            return self._migrate(mapping, dsn, actor, restart, progress or SilentProgress())

    def _bury(self, mapping_name: str) -> None:
        """Runs recorded as running while no one holds the mapping: their process died."""
        for run in self._store.runs(mapping_name, limit=1_000):
            if run.state is MigrationState.RUNNING:
                self._store.save_run(
                    run.model_copy(
                        update={
                            "state": MigrationState.FAILED,
                            "error": "interrupted: its process ended before the run finished "
                            "(its committed chunks stand; this run resumes after them)",
                        }
                    )
                )

    def _migrate(
        self,
        mapping: SourceMapping,
        dsn: str,
        actor: str,
        restart: bool,
        progress: ProgressReporter,
    ) -> MigrationRun:
        digest = mapping_sha256(mapping)
        checkpoint = None if restart else self._store.checkpoint(mapping.name)
        if checkpoint is not None and checkpoint.mapping_sha256 != digest:
            raise _changed(mapping)
        source = self.open(dsn, mapping)
        specs = self.instruments(mapping)
        if restart:
            self._store.forget(mapping.name)
        run = MigrationRun(
            migration_id=new_migration_id(),
            mapping_name=mapping.name,
            source=f"{source.describe()} table {mapping.table}",
            table=mapping.table,
            kind=mapping.kind.value,
            state=MigrationState.RUNNING,
            actor=actor,
            started_ns=self._clock(),
            watermark=None if checkpoint is None else checkpoint.watermark,
        )
        self._store.save_run(run)
        chunks = _Chunks(self, mapping, specs, digest, run, checkpoint)
        try:
            with source.snapshot(mapping) as snapshot:
                chunks.late_rows(snapshot, progress)
                chunks.new_rows(snapshot, progress)
        except BaseException as error:
            reason = "interrupted" if isinstance(error, KeyboardInterrupt) else str(error)
            self._store.save_run(
                chunks.run.model_copy(
                    update={
                        "state": MigrationState.FAILED,
                        "finished_ns": self._clock(),
                        "error": reason[:2_000] or type(error).__name__,
                    }
                )
            )
            raise
        done = chunks.run.model_copy(
            update={"state": MigrationState.COMPLETED, "finished_ns": self._clock()}
        )
        self._store.save_run(done)
        return done

    def verify(
        self, mapping: SourceMapping, dsn: str, progress: ProgressReporter | None = None
    ) -> VerifyReport:
        """Both sides of the mapping's migrated range, day by day (:mod:`migration_verify`)."""
        checkpoint = self._store.checkpoint(mapping.name)
        if checkpoint is None or checkpoint.watermark is None:
            raise NotFoundError(
                f"mapping {mapping.name} has not migrated a row yet: there is nothing to verify",
                hint="migrate it first",
                code="migration_not_started",
                data={"mapping": mapping.name},
            )
        if checkpoint.mapping_sha256 != mapping_sha256(mapping):
            raise _changed(mapping)
        source = self.open(dsn, mapping)
        lookup = instrument_lookup(self._catalog, mapping, self.instruments(mapping))
        with self._locks.hold(f"migration:{mapping.name}") as taken:
            if not taken:  # its catalog would be ahead of its checkpoint
                raise _running(mapping)
            with source.snapshot(mapping) as snapshot:
                return verify_range(
                    self._catalog,
                    snapshot,
                    mapping,
                    lookup,
                    checkpoint.watermark,
                    f"{source.describe()} table {mapping.table}",
                    progress or SilentProgress(),
                )

    def runs(self, mapping_name: str | None = None, limit: int = 100) -> Sequence[MigrationRun]:
        return self._store.runs(mapping_name, limit=limit)

    def run(self, migration_id: str) -> MigrationRun:
        found = self._store.run(migration_id)
        if found is None:
            raise NotFoundError(
                f"no migration {migration_id[:100]!r}",
                code="migration_not_found",
                data={"migration_id": migration_id[:100]},
            )
        return found

    def rejections(
        self, migration_id: str, offset: int = 0, limit: int = 10_000
    ) -> list[Rejection]:
        self.run(migration_id)
        return list(self._store.rejections(migration_id, offset=offset, limit=limit))

    def now(self) -> int:
        return self._clock()


class _Chunks:
    """One run's chunk loop and counts."""

    def __init__(
        self,
        service: MigrationService,
        mapping: SourceMapping,
        specs: dict[str, InstrumentSpec],
        digest: str,
        run: MigrationRun,
        checkpoint: MigrationCheckpoint | None,
    ) -> None:
        self._service = service
        self._mapping = mapping
        self._instrument = instrument_lookup(service.catalog, mapping, specs)
        self._digest = digest
        self.run = run
        self._watermark = None if checkpoint is None else checkpoint.watermark
        self._chunks_total = 0 if checkpoint is None else checkpoint.chunks
        assert mapping.bar_spec is not None  # a bars mapping names a valid bar spec
        self._spec = BarSpec.parse(mapping.bar_spec)
        self._query = ""

    def late_rows(self, snapshot: TableSnapshot, progress: ProgressReporter) -> None:
        if self._watermark is None:
            return
        store = self._service.store
        held = store.days(self._mapping.name)
        now = snapshot.day_counts(self._watermark)
        grown = sorted(day for day, rows in now.items() if rows > held.get(day, 0))
        shrunk = sorted(day for day, rows in held.items() if now.get(day, 0) < rows)
        self.run = self.run.model_copy(update={"late_days": grown, "shrunk_days": shrunk})
        if not grown and not shrunk:
            return
        self._query = snapshot.query_text(None)
        with progress.task(LATE_TASK, len(grown)) as advance:
            for day in grown:
                for chunk in snapshot.bar_chunks(days=DayWindow(day, day)):
                    self._commit(chunk, days_added={}, remigrated_day=day)
                store.set_days(self._mapping.name, {day: now[day]})
                advance(1)
        if shrunk:
            store.set_days(self._mapping.name, {day: now.get(day, 0) for day in shrunk})

    def new_rows(self, snapshot: TableSnapshot, progress: ProgressReporter) -> None:
        self._query = snapshot.query_text(self._watermark)
        total = snapshot.count(self._watermark)
        with progress.task(NEW_TASK, total=total) as advance:
            for chunk in snapshot.bar_chunks(after=self._watermark):
                if chunk.last is not None:
                    self._watermark = chunk.last
                self._commit(chunk, days_added=dict(chunk.days), remigrated_day=None)
                advance(chunk.rows)

    def _commit(
        self, chunk: BarChunk, *, days_added: dict[int, int], remigrated_day: int | None
    ) -> None:
        catalog = self._service.catalog
        self._chunks_total += 1
        number = self.run.chunks + 1
        rejections = list(chunk.rejections)
        written = present = 0
        source_digest, catalog_digest = hashlib.sha256(), hashlib.sha256()
        for k, instrument_id in enumerate(sorted(chunk.bars)):
            raw = chunk.bars[instrument_id]
            spec = self._instrument(instrument_id)
            if spec is None:  # a column's own value, no ids to map it: not defined here
                rejections.extend(_undefined(raw, instrument_id))
                continue
            validated = validate_bars(raw, spec, bounds=catalog.value_bounds)
            rejections.extend([*raw.malformed, *validated.rejections])
            bar_type = bar_type_id(instrument_id, self._spec)
            rows_read = len(raw) + len(raw.malformed)
            lineage = self._lineage(number, k, chunk, instrument_id, bar_type, rows_read)
            outcome = commit_new_bars(catalog, validated, spec, bar_type, lineage)
            rejections.extend(outcome.conflicts)
            written += len(outcome.written)
            present += outcome.present
            source_digest.update(bars_digest(instrument_id, outcome.kept).encode())
            back = _read_back(catalog, bar_type, outcome.kept)
            catalog_digest.update(bars_digest(instrument_id, back).encode())
        if source_digest.digest() != catalog_digest.digest():
            raise CatalogError(
                f"migration {self.run.migration_id} chunk {number}: the rows read back from "
                "the catalog differ from the rows read from the source; the checkpoint was "
                "not advanced",
                hint="run data verify to see the days that differ",
                code="chunk_digest_mismatch",
                data={"migration_id": self.run.migration_id, "chunk": number},
            )
        rejections.sort(key=lambda r: r.row)
        now = self._service.now()
        record = ChunkRecord(
            migration_id=self.run.migration_id,
            chunk=number,
            first_row=chunk.first_row,
            rows_read=chunk.rows,
            rows_written=written,
            rows_present=present,
            rows_rejected=len(rejections),
            watermark=self._watermark,
            source_sha256=source_digest.hexdigest(),
            catalog_sha256=catalog_digest.hexdigest(),
            remigrated_day=remigrated_day,
            committed_ns=now,
        )
        self.run = self.run.model_copy(
            update={
                "rows_read": self.run.rows_read + chunk.rows,
                "rows_written": self.run.rows_written + written,
                "rows_present": self.run.rows_present + present,
                "rows_rejected": self.run.rows_rejected + len(rejections),
                "chunks": number,
                "watermark": self._watermark,
            }
        )
        checkpoint = MigrationCheckpoint(
            mapping_name=self._mapping.name,
            mapping_sha256=self._digest,
            watermark=self._watermark,
            migration_id=self.run.migration_id,
            chunks=self._chunks_total,
            updated_ns=now,
        )
        self._service.store.save_chunk(
            self.run,
            ChunkCheckpoint(
                record=record,
                checkpoint=checkpoint,
                rejections=rejections,
                days_added=days_added,
            ),
        )

    def _lineage(
        self,
        number: int,
        part: int,
        chunk: BarChunk,
        instrument_id: str,
        bar_type: str,
        rows_read: int,
    ) -> LineageOf:
        started = self._service.now()
        watermark = None if chunk.last is None else str(chunk.last.timestamp)

        def lineage(
            new: BarColumns, present: int, conflicts: list[Rejection], commit: StagedCommit
        ) -> LineageRecord:
            return LineageRecord(
                ingest_id=f"{self.run.migration_id}-c{number:06d}-{part}",
                source=self.run.source,
                source_sha256=bars_digest(instrument_id, new),
                instrument_id=instrument_id,
                bar_type=bar_type,
                rows_read=rows_read,
                rows_written=len(new),
                rows_already_present=present,
                rows_rejected=rows_read - len(new) - present,
                first_ts=int(new.ts_ns[0]),
                last_ts=int(new.ts_ns[-1]),
                files_added=commit.files_added,
                files_replaced=commit.files_replaced,
                quantdesk_version=quantdesk.__version__,
                nautilus_trader_version=self._service.catalog.engine_version,
                started_at_ns=started,
                finished_at_ns=self._service.now(),
                migration=MigrationLineage(
                    migration_id=self.run.migration_id,
                    mapping=self._mapping.name,
                    mapping_sha256=self._digest,
                    table=self._mapping.table,
                    query=self._query,
                    chunk=number,
                    watermark=watermark,
                ),
            )

        return lineage


def _running(mapping: SourceMapping) -> ConflictError:
    return ConflictError(
        f"mapping {mapping.name} is being migrated by another run right now",
        hint="wait for it to finish (its progress is in the migration runs)",
        code="migration_running",
        data={"mapping": mapping.name},
    )


def _changed(mapping: SourceMapping) -> ConflictError:
    return ConflictError(
        f"mapping {mapping.name} changed since its migration began (its table, columns, "
        "instruments or filters differ): its watermark does not describe this mapping",
        hint="give the new mapping another name, or restart the migration from the first row",
        code="mapping_changed",
        data={"mapping": mapping.name},
    )


def _read_back(catalog: MarketDataCatalog, bar_type: str, kept: BarColumns) -> BarColumns:
    """The catalog's rows at the timestamps of ``kept`` (what it now returns for them)."""
    if len(kept) == 0:
        return kept
    held = catalog.read_bars(bar_type, int(kept.ts_ns[0]), int(kept.ts_ns[-1]))
    return held.take(np.isin(held.ts_ns, kept.ts_ns))


def _undefined(raw: RawBarColumns, instrument_id: str) -> list[Rejection]:
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
