"""``SqlRiskLimitStore``: the portfolio's risk-limit versions, each with its audit event.

A version and its ``risk_limits_set`` event commit together or not at all, under the
database's one write lock, so the version number is decided from what is stored then.
"""

import json

from sqlalchemy import BigInteger, String, Text, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from quantdesk.adapters.storage.audit_log import append_event
from quantdesk.adapters.storage.database import Database
from quantdesk.adapters.storage.tables import Base
from quantdesk.domain.audit import AuditKey
from quantdesk.domain.errors import ConflictError
from quantdesk.domain.risk import RiskLimits
from quantdesk.domain.risk_limits import RiskLimitVersion, limits_document, limits_hash
from quantdesk.domain.strategies.canonical import canonical_json

ACTION = "risk_limits_set"
SUBJECT = "portfolio"


class RiskLimitRow(Base):
    """One version of the portfolio's limits (inserted once, never updated)."""

    __tablename__ = "risk_limit_versions"

    version: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    limits: Mapped[str] = mapped_column(Text, doc="canonical JSON of RiskLimits")
    limits_hash: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    set_at_ns: Mapped[int] = mapped_column(BigInteger)
    correlation_id: Mapped[str | None] = mapped_column(String(64))
    audit_seq: Mapped[int] = mapped_column(BigInteger, doc="its risk_limits_set event")


class SqlRiskLimitStore:
    """The ``RiskLimitStore`` port on the registry's database (SQLite or PostgreSQL)."""

    def __init__(self, database: Database, key: AuditKey | None = None) -> None:
        self._database = database
        self._key = key

    def current(self) -> RiskLimitVersion | None:
        with self._database.reading() as session:
            row = _newest(session)
            return None if row is None else _version(row)

    def add(
        self,
        limits: RiskLimits,
        *,
        actor: str,
        reason: str,
        at_ns: int,
        correlation_id: str | None,
        expected_version: int | None = None,
    ) -> tuple[RiskLimitVersion, bool]:
        document = limits_document(limits)
        digest = limits_hash(limits)

        def work(session: Session) -> tuple[RiskLimitVersion, bool]:
            newest = _newest(session)
            seen = 0 if newest is None else newest.version
            if expected_version is not None and expected_version != seen:
                raise ConflictError(
                    f"the risk limits are at version {seen}, not {expected_version}: "
                    "someone changed them since they were read",
                    code="risk_limits_changed",
                    data={"current_version": seen, "expected_version": expected_version},
                )
            if newest is not None and newest.limits_hash == digest:
                return _version(newest), False
            version = seen + 1
            event = append_event(
                session,
                actor,
                ACTION,
                SUBJECT,
                {
                    "version": version,
                    "limits": document,
                    "limits_hash": digest,
                    "reason": reason,
                    "correlation_id": correlation_id,
                },
                at_ns,
                self._key,
            )
            row = RiskLimitRow(
                version=version,
                limits=canonical_json(document),
                limits_hash=digest,
                actor=actor,
                reason=reason,
                set_at_ns=at_ns,
                correlation_id=correlation_id,
                audit_seq=event.seq,
            )
            session.add(row)
            session.flush()  # the primary key on version refuses a twin here
            return _version(row), True

        return self._database.write(work)

    def history(self, *, limit: int, offset: int) -> tuple[list[RiskLimitVersion], int]:
        with self._database.reading() as session:
            total = session.scalar(select(func.count()).select_from(RiskLimitRow)) or 0
            rows = session.scalars(
                select(RiskLimitRow)
                .order_by(RiskLimitRow.version.desc())
                .limit(limit)
                .offset(offset)
            ).all()
            return [_version(row) for row in rows], int(total)


def _newest(session: Session) -> RiskLimitRow | None:
    return session.scalars(
        select(RiskLimitRow).order_by(RiskLimitRow.version.desc()).limit(1)
    ).first()


def _version(row: RiskLimitRow) -> RiskLimitVersion:
    return RiskLimitVersion(
        version=row.version,
        limits=RiskLimits.model_validate(json.loads(row.limits)),
        actor=row.actor,
        reason=row.reason,
        set_at_ns=row.set_at_ns,
        limits_hash=row.limits_hash,
        correlation_id=row.correlation_id,
    )
