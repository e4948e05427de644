"""Migrating a PostgreSQL table of bars or ticks into the catalog: checksummed, incremental,
resumable.

A run, in one snapshot of the table:

1. **Late rows.** When the mapping has a watermark, the rows per source day up to it are
   counted and compared with the counts its committed chunks recorded. A day with more rows
   now is re-read whole and goes through the same steps as new rows (the rows the catalog
   holds are recognised as present, the rest is written); a day with fewer is reported (the
   catalog keeps what it has). A row changed in place keeps its day's count: ``verify``
   finds it.
2. **New rows**, strictly after the watermark, a chunk at a time: each instrument's rows are
   validated exactly as a file ingest validates them (bad rows rejected with the reason,
   never dropped), committed to the catalog with a lineage record (source without password,
   table, query, watermark), then read back (``migration_chunks``; ticks:
   ``migration_ticks``): the digest of the valid rows as read from the
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

from quantdesk.domain.errors import ConflictError, InvalidInputError, NotFoundError
from quantdesk.domain.instruments import InstrumentSpec
from quantdesk.domain.market_data import BarSpec, Rejection
from quantdesk.domain.migration import (
    MigrationRun,
    MigrationState,
    VerifyReport,
)
from quantdesk.domain.source_mapping import SourceMapping
from quantdesk.domain.strategies.canonical import canonical_json
from quantdesk.services.document_models import model_from_document
from quantdesk.services.migration_chunks import (
    LATE_TASK,
    NEW_TASK,
    BarWriter,
    ChunkContext,
    ChunkLoop,
    ChunkWriter,
)
from quantdesk.services.migration_ticks import TickWriter
from quantdesk.services.migration_verify import instrument_lookup, verify_range
from quantdesk.services.ports import MarketDataCatalog, ProgressReporter, SilentProgress
from quantdesk.services.ports.documents import Document
from quantdesk.services.ports.migrations import MigrationStore
from quantdesk.services.ports.run_locks import ProcessRunLocks, RunLocks
from quantdesk.services.ports.table_sources import TableSource
from quantdesk.services.ports.ticks import TickCatalog, TickStore

__all__ = ["LATE_TASK", "NEW_TASK", "MigrationService", "SourceOpener", "mapping_from_document"]

_HINT = "see docs/migration.md for the mapping file's fields"
_URL_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://")
SourceOpener = Callable[[str], TableSource]


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
        ticks: tuple[TickStore, TickCatalog] | None = None,
    ) -> None:
        """``ticks``: where tick tables go and are read back from (without: bars only)."""
        self._catalog = catalog
        self._ticks = ticks
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
        """What can be refused without the source: a kind this service cannot store, an
        instrument the catalog does not define."""
        if mapping.kind.tick_kind is not None and self._ticks is None:
            raise InvalidInputError(
                f"mapping {mapping.name}: this service migrates bars only (it was built "
                f"without a tick store), not {mapping.kind.value}",
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
        context = ChunkContext(
            run=run,
            mapping=mapping,
            mapping_sha256=digest,
            query="",
            chunk=0,
            watermark=None,
            engine_version=self._catalog.engine_version,
            now=self._clock,
        )
        chunks = ChunkLoop(self._store, self._writer(mapping, specs), context, checkpoint)
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

    def _writer(self, mapping: SourceMapping, specs: dict[str, InstrumentSpec]) -> ChunkWriter:
        lookup = instrument_lookup(self._catalog, mapping, specs)
        kind = mapping.kind.tick_kind
        if kind is None:
            assert mapping.bar_spec is not None  # a bars mapping names a valid bar spec
            return BarWriter(self._catalog, lookup, BarSpec.parse(mapping.bar_spec))
        assert self._ticks is not None  # check() refused a tick mapping without a store
        store, reads = self._ticks
        return TickWriter(store, reads, kind, lookup, self._catalog.value_bounds)

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
                    ticks=None if self._ticks is None else self._ticks[1],
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
