"""``SqlMigrationStore``: table migrations' runs, checkpoints and rejects in our database."""

import json
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from quantdesk.adapters.storage.database import Database
from quantdesk.adapters.storage.migration_tables import (
    MigrationCheckpointRow,
    MigrationChunkRow,
    MigrationDayRow,
    MigrationRejectRow,
    MigrationRunRow,
)
from quantdesk.domain.market_data import Rejection, RejectReason
from quantdesk.domain.migration import (
    ChunkCheckpoint,
    ChunkRecord,
    MigrationCheckpoint,
    MigrationRun,
    MigrationState,
    Watermark,
)

_ID_MAX = 100


class SqlMigrationStore:
    """The ``MigrationStore`` port on the registry's database (SQLite or PostgreSQL)."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def checkpoint(self, mapping_name: str) -> MigrationCheckpoint | None:
        if len(mapping_name) > _ID_MAX:
            return None
        with self._database.reading() as session:
            row = session.get(MigrationCheckpointRow, mapping_name)
            if row is None:
                return None
            return MigrationCheckpoint(
                mapping_name=row.mapping_name,
                mapping_sha256=row.mapping_sha256,
                watermark=_watermark(row.watermark),
                migration_id=row.migration_id,
                chunks=row.chunks,
                updated_ns=row.updated_ns,
            )

    def days(self, mapping_name: str) -> dict[int, int]:
        with self._database.reading() as session:
            rows = session.scalars(
                select(MigrationDayRow).where(MigrationDayRow.mapping_name == mapping_name)
            )
            return {row.day: row.rows for row in rows}

    def save_run(self, run: MigrationRun) -> None:
        self._database.write(lambda session: _put_run(session, run))

    def save_chunk(self, run: MigrationRun, chunk: ChunkCheckpoint) -> None:
        def work(session: Session) -> None:
            _put_run(session, run)
            record = chunk.record
            session.merge(
                MigrationChunkRow(
                    **record.model_dump(exclude={"watermark"}),
                    watermark=_text(record.watermark),
                )
            )
            for rejection in chunk.rejections:
                session.add(
                    MigrationRejectRow(
                        migration_id=record.migration_id,
                        row=rejection.row,
                        field=rejection.field[:64],
                        value=rejection.value,
                        reason=rejection.reason.value,
                        detail=rejection.detail,
                    )
                )
            point = chunk.checkpoint
            session.merge(
                MigrationCheckpointRow(
                    mapping_name=point.mapping_name,
                    mapping_sha256=point.mapping_sha256,
                    watermark=_text(point.watermark),
                    migration_id=point.migration_id,
                    chunks=point.chunks,
                    updated_ns=point.updated_ns,
                )
            )
            for day, rows in sorted(chunk.days_added.items()):
                held = session.get(MigrationDayRow, (point.mapping_name, day))
                if held is None:
                    session.add(
                        MigrationDayRow(mapping_name=point.mapping_name, day=day, rows=rows)
                    )
                else:
                    held.rows += rows
            session.flush()

        self._database.write(work)

    def set_days(self, mapping_name: str, days: dict[int, int]) -> None:
        def work(session: Session) -> None:
            for day, rows in sorted(days.items()):
                session.merge(MigrationDayRow(mapping_name=mapping_name, day=day, rows=rows))

        self._database.write(work)

    def run(self, migration_id: str) -> MigrationRun | None:
        if len(migration_id) > _ID_MAX:
            return None
        with self._database.reading() as session:
            row = session.get(MigrationRunRow, migration_id)
            return None if row is None else _run(row)

    def runs(self, mapping_name: str | None = None, *, limit: int = 100) -> Sequence[MigrationRun]:
        query = select(MigrationRunRow).order_by(
            MigrationRunRow.started_ns.desc(), MigrationRunRow.migration_id
        )
        if mapping_name is not None:
            query = query.where(MigrationRunRow.mapping_name == mapping_name)
        with self._database.reading() as session:
            return [_run(row) for row in session.scalars(query.limit(max(limit, 0)))]

    def chunks(self, migration_id: str) -> Sequence[ChunkRecord]:
        query = (
            select(MigrationChunkRow)
            .where(MigrationChunkRow.migration_id == migration_id)
            .order_by(MigrationChunkRow.chunk)
        )
        with self._database.reading() as session:
            return [
                ChunkRecord(
                    migration_id=row.migration_id,
                    chunk=row.chunk,
                    first_row=row.first_row,
                    rows_read=row.rows_read,
                    rows_written=row.rows_written,
                    rows_present=row.rows_present,
                    rows_rejected=row.rows_rejected,
                    watermark=_watermark(row.watermark),
                    source_sha256=row.source_sha256,
                    catalog_sha256=row.catalog_sha256,
                    remigrated_day=row.remigrated_day,
                    committed_ns=row.committed_ns,
                )
                for row in session.scalars(query)
            ]

    def rejections(
        self, migration_id: str, *, offset: int = 0, limit: int = 10_000
    ) -> Sequence[Rejection]:
        query = (
            select(MigrationRejectRow)
            .where(MigrationRejectRow.migration_id == migration_id)
            .order_by(MigrationRejectRow.seq)
            .offset(max(offset, 0))
            .limit(max(limit, 0))
        )
        with self._database.reading() as session:
            return [
                Rejection(
                    row=row.row,
                    field=row.field,
                    value=row.value,
                    reason=RejectReason(row.reason),
                    detail=row.detail,
                )
                for row in session.scalars(query)
            ]

    def forget(self, mapping_name: str) -> None:
        def work(session: Session) -> None:
            session.execute(
                delete(MigrationCheckpointRow).where(
                    MigrationCheckpointRow.mapping_name == mapping_name
                )
            )
            session.execute(
                delete(MigrationDayRow).where(MigrationDayRow.mapping_name == mapping_name)
            )

        self._database.write(work)


def _put_run(session: Session, run: MigrationRun) -> None:
    session.merge(
        MigrationRunRow(
            migration_id=run.migration_id,
            mapping_name=run.mapping_name,
            source=run.source,
            table_name=run.table,
            kind=run.kind,
            state=run.state.value,
            actor=run.actor,
            started_ns=run.started_ns,
            finished_ns=run.finished_ns,
            rows_read=run.rows_read,
            rows_written=run.rows_written,
            rows_present=run.rows_present,
            rows_rejected=run.rows_rejected,
            chunks=run.chunks,
            late_days=json.dumps(run.late_days),
            shrunk_days=json.dumps(run.shrunk_days),
            watermark=_text(run.watermark),
            error=run.error,
        )
    )


def _run(row: MigrationRunRow) -> MigrationRun:
    return MigrationRun(
        migration_id=row.migration_id,
        mapping_name=row.mapping_name,
        source=row.source,
        table=row.table_name,
        kind=row.kind,
        state=MigrationState(row.state),
        actor=row.actor,
        started_ns=row.started_ns,
        finished_ns=row.finished_ns,
        rows_read=row.rows_read,
        rows_written=row.rows_written,
        rows_present=row.rows_present,
        rows_rejected=row.rows_rejected,
        chunks=row.chunks,
        late_days=json.loads(row.late_days),
        shrunk_days=json.loads(row.shrunk_days),
        watermark=_watermark(row.watermark),
        error=row.error,
    )


def _text(watermark: Watermark | None) -> str | None:
    return None if watermark is None else watermark.model_dump_json()


def _watermark(text: str | None) -> Watermark | None:
    return None if text is None else Watermark.model_validate_json(text)
