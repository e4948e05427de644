"""``SqlValidationRecordStore``: validation records and promotion overrides, each written
with its audit event in one transaction (the chain never misses a verdict or an override)."""

import json
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from quantdesk.adapters.storage.audit_log import append_event
from quantdesk.adapters.storage.database import Database
from quantdesk.adapters.storage.validation_tables import PromotionOverrideRow, ValidationRecordRow
from quantdesk.domain.audit import AuditKey
from quantdesk.domain.correlation import current_correlation_id
from quantdesk.domain.errors import ConflictError
from quantdesk.domain.validation.report import PromotionOverride, ValidationRecord
from quantdesk.services.ports.validation import PROMOTION_OVERRIDDEN, VALIDATION_RECORDED

_INT_MAX = 2**31 - 1


class SqlValidationRecordStore:
    """The ``ValidationRecordStore`` port on the registry's database."""

    def __init__(self, database: Database, key: AuditKey | None = None) -> None:
        self._database = database
        self._key = key

    # --- writes ------------------------------------------------------------------------------

    def add(self, record: ValidationRecord, *, at_ns: int) -> None:
        def work(session: Session) -> None:
            if session.get(ValidationRecordRow, record.validation_id) is not None:
                raise ConflictError(
                    f"validation {record.validation_id!r} is stored already",
                    code="validation_exists",
                    data={"validation_id": record.validation_id},
                )
            event = append_event(
                session,
                record.actor,
                VALIDATION_RECORDED,
                record.ref,
                {
                    **record.model_dump(mode="json"),
                    "correlation_id": current_correlation_id(),
                },
                at_ns,
                self._key,
            )
            session.add(_record_row(record, event.seq))
            session.flush()

        self._database.write(work)

    def add_override(self, override: PromotionOverride) -> None:
        def work(session: Session) -> None:
            event = append_event(
                session,
                override.actor,
                PROMOTION_OVERRIDDEN,
                f"{override.strategy_id}@{override.version}",
                {
                    **override.model_dump(mode="json"),
                    "correlation_id": current_correlation_id(),
                },
                override.at_ns,
                self._key,
            )
            session.add(PromotionOverrideRow(**override.model_dump(), audit_seq=event.seq))
            session.flush()

        self._database.write(work)

    # --- reads -------------------------------------------------------------------------------

    def get(self, validation_id: str) -> ValidationRecord | None:
        if len(validation_id) > 64:
            return None
        with self._database.reading() as session:
            row = session.get(ValidationRecordRow, validation_id)
            return None if row is None else _record(row)

    def latest(self, strategy_id: str, version: int, content_hash: str) -> ValidationRecord | None:
        return self._first(_of(strategy_id, version, content_hash))

    def passing(self, strategy_id: str, version: int, content_hash: str) -> ValidationRecord | None:
        query = _of(strategy_id, version, content_hash)
        if query is None:
            return None
        return self._first(query.where(ValidationRecordRow.passed.is_(True)))

    def list(
        self, strategy_id: str | None = None, version: int | None = None, *, limit: int = 100
    ) -> list[ValidationRecord]:
        if version is not None and not 0 <= version <= _INT_MAX:
            return []
        query = select(ValidationRecordRow)
        if strategy_id is not None:
            query = query.where(ValidationRecordRow.strategy_id == strategy_id)
        if version is not None:
            query = query.where(ValidationRecordRow.version == version)
        with self._database.reading() as session:
            return _records(session.scalars(_newest_first(query).limit(max(limit, 0))).all())

    def override(
        self, strategy_id: str, version: int, content_hash: str
    ) -> PromotionOverride | None:
        if not 0 <= version <= _INT_MAX:
            return None
        with self._database.reading() as session:
            row = session.scalars(
                select(PromotionOverrideRow)
                .where(
                    PromotionOverrideRow.strategy_id == strategy_id,
                    PromotionOverrideRow.version == version,
                    PromotionOverrideRow.content_hash == content_hash,
                )
                .order_by(PromotionOverrideRow.at_ns.desc(), PromotionOverrideRow.row_id.desc())
                .limit(1)
            ).first()
            return None if row is None else _override(row)

    def _first(self, query: Select[tuple[ValidationRecordRow]] | None) -> ValidationRecord | None:
        if query is None:
            return None
        with self._database.reading() as session:
            row = session.scalars(_newest_first(query).limit(1)).first()
            return None if row is None else _record(row)


def _of(
    strategy_id: str, version: int, content_hash: str
) -> Select[tuple[ValidationRecordRow]] | None:
    if not 0 <= version <= _INT_MAX:
        return None  # no such row can exist
    return select(ValidationRecordRow).where(
        ValidationRecordRow.strategy_id == strategy_id,
        ValidationRecordRow.version == version,
        ValidationRecordRow.content_hash == content_hash,
    )


def _newest_first(
    query: Select[tuple[ValidationRecordRow]],
) -> Select[tuple[ValidationRecordRow]]:
    return query.order_by(
        ValidationRecordRow.finished_at_ns.desc(), ValidationRecordRow.validation_id.desc()
    )


def _record_row(record: ValidationRecord, audit_seq: int) -> ValidationRecordRow:
    values = record.model_dump()
    values["failed_checks"] = json.dumps(record.failed_checks)
    return ValidationRecordRow(**values, audit_seq=audit_seq)


def _record(row: ValidationRecordRow) -> ValidationRecord:
    values = {
        column: getattr(row, column)
        for column in ValidationRecord.model_fields
        if column != "failed_checks"
    }
    return ValidationRecord.model_validate(
        {**values, "failed_checks": json.loads(row.failed_checks)}
    )


def _records(rows: Sequence[ValidationRecordRow]) -> list[ValidationRecord]:
    return [_record(row) for row in rows]


def _override(row: PromotionOverrideRow) -> PromotionOverride:
    return PromotionOverride(
        strategy_id=row.strategy_id,
        version=row.version,
        content_hash=row.content_hash,
        actor=row.actor,
        reason=row.reason,
        at_ns=row.at_ns,
    )
