"""``SqlMigrationStore``: table migrations' runs, checkpoints and rejects in our database."""

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

from quantdesk.adapters.storage.database import Database
from quantdesk.adapters.storage.migration_tables import (
    MigrationCheckpointRow,
    MigrationChunkRow,
    MigrationDayRow,
    MigrationRejectRow,
    MigrationRunRow,
)
from quantdesk.adapters.storage.tables import Base
from quantdesk.domain.market_data import Rejection
from quantdesk.domain.migration import (
    ChunkCheckpoint,
    ChunkRecord,
    MigrationCheckpoint,
    MigrationRun,
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
            return None if row is None else MigrationCheckpoint.model_validate(_fields(row))

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
            session.merge(MigrationChunkRow(**_columns(record)))
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
            session.merge(MigrationCheckpointRow(**_columns(point)))
            _add_days(session, point.mapping_name, chunk.days_added)
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
            return [ChunkRecord.model_validate(_fields(row)) for row in session.scalars(query)]

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
            return [Rejection.model_validate(_fields(row)) for row in session.scalars(query)]

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


def _add_days(session: Session, mapping_name: str, days: dict[int, int]) -> None:
    """Add a chunk's rows per day to the mapping's totals: the days already held in the
    chunk's range read in one query (a chunk covers a few days; one query each was most of
    a checkpoint's time)."""
    if not days:
        return
    query = select(MigrationDayRow).where(
        MigrationDayRow.mapping_name == mapping_name,
        MigrationDayRow.day.between(min(days), max(days)),
    )
    held = {row.day: row for row in session.scalars(query)}
    for day, rows in sorted(days.items()):
        if day in held:
            held[day].rows += rows
        else:
            session.add(MigrationDayRow(mapping_name=mapping_name, day=day, rows=rows))


def _put_run(session: Session, run: MigrationRun) -> None:
    values = _columns(run)
    values["table_name"] = values.pop("table")
    values["late_days"] = json.dumps(run.late_days)
    values["shrunk_days"] = json.dumps(run.shrunk_days)
    values["warnings_by_kind"] = json.dumps(run.warnings_by_kind)
    session.merge(MigrationRunRow(**values))


def _run(row: MigrationRunRow) -> MigrationRun:
    values = _fields(row)
    values["table"] = values.pop("table_name")
    values["late_days"] = json.loads(row.late_days)
    values["shrunk_days"] = json.loads(row.shrunk_days)
    values["warnings_by_kind"] = json.loads(row.warnings_by_kind)
    return MigrationRun.model_validate(values)


def _columns(model: ChunkRecord | MigrationCheckpoint | MigrationRun) -> dict[str, Any]:
    """A record's fields as its row's columns: the watermark is stored as its JSON."""
    values = model.model_dump()
    values["watermark"] = _watermark_json(model.watermark)
    return values


def _watermark_json(watermark: Watermark | None) -> str | None:
    """A zone-aware time is written in UTC: JSON keeps an offset's minutes, not its seconds
    (a historical zone's +00:19:32 would come back 32 s off, and a resumed read would skip
    or repeat the rows between)."""
    if watermark is None:
        return None
    stamp = watermark.timestamp
    if isinstance(stamp, datetime) and stamp.utcoffset() is not None:
        watermark = Watermark(timestamp=stamp.astimezone(UTC))
    return watermark.model_dump_json()


def _fields(row: Base) -> dict[str, Any]:
    """A row's columns as its record's fields: the inverse of :func:`_columns`."""
    values = {attr.key: getattr(row, attr.key) for attr in sa_inspect(row).mapper.column_attrs}
    if values.get("watermark") is not None:
        values["watermark"] = Watermark.model_validate_json(values["watermark"])
    return values
