"""``SqlAuditSearch``: filtered, paged reads of the registry's audit log where its rows are."""

from typing import Any

from sqlalchemy import Select, func, select

from quantdesk.adapters.storage.audit_log import event_from_row
from quantdesk.adapters.storage.database import Database
from quantdesk.adapters.storage.tables import AuditEventRow
from quantdesk.domain.audit import AuditEvent
from quantdesk.services.ports.audit_trail import AuditFilter


class SqlAuditSearch:
    """The ``AuditSearch`` port on the registry's database (SQLite or PostgreSQL)."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def search(
        self, where: AuditFilter, *, limit: int, offset: int
    ) -> tuple[list[AuditEvent], int]:
        with self._database.reading() as session:
            total = session.scalar(_where(select(func.count()).select_from(AuditEventRow), where))
            rows = session.scalars(
                _where(select(AuditEventRow), where)
                .order_by(AuditEventRow.seq)
                .limit(limit)
                .offset(offset)
            ).all()
            return [event_from_row(row) for row in rows], int(total or 0)


def _where(query: Select[Any], where: AuditFilter) -> Select[Any]:
    query = query.where(AuditEventRow.seq > where.after_seq)
    if where.actor is not None:
        query = query.where(AuditEventRow.actor == where.actor)
    if where.action is not None:
        query = query.where(AuditEventRow.action == where.action)
    if where.action_prefix is not None:
        query = query.where(AuditEventRow.action.startswith(where.action_prefix, autoescape=True))
    if where.subject is not None:
        query = query.where(AuditEventRow.subject.startswith(where.subject, autoescape=True))
    if where.since_ns is not None:
        query = query.where(AuditEventRow.at_ns >= where.since_ns)
    if where.until_ns is not None:
        query = query.where(AuditEventRow.at_ns < where.until_ns)
    return query
