"""``SqlFlagStore``: feature-flag versions, each with its audit event in the same transaction.

Rows are inserted once and never updated; a flag's current value is its highest version.
The write runs under the database's one write lock, so the version number and the flag
count are decided from what is stored at that moment.
"""

import json

from sqlalchemy import BigInteger, Boolean, Integer, String, Text, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from quantdesk.adapters.storage.audit_log import append_event
from quantdesk.adapters.storage.database import Database
from quantdesk.adapters.storage.tables import Base
from quantdesk.domain.audit import AuditKey
from quantdesk.domain.errors import ConflictError
from quantdesk.domain.feature_flags import FeatureFlag, flag_changed


class FlagVersionRow(Base):
    """One version of one flag."""

    __tablename__ = "feature_flag_versions"

    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    enabled: Mapped[bool] = mapped_column(Boolean)
    rollout_percent: Mapped[int] = mapped_column(Integer)
    allowed_roles: Mapped[str] = mapped_column(Text, doc="JSON list of role names")
    environments: Mapped[str] = mapped_column(Text, doc="JSON list of environment names")
    description: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at_ns: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    reverted_from: Mapped[int | None] = mapped_column(Integer)
    correlation_id: Mapped[str | None] = mapped_column(String(64))
    audit_seq: Mapped[int] = mapped_column(BigInteger, doc="its audit event")


class SqlFlagStore:
    """The ``FlagStore`` port on the registry's database (SQLite or PostgreSQL)."""

    def __init__(self, database: Database, key: AuditKey | None = None) -> None:
        self._database = database
        self._key = key

    def current(self, name: str) -> FeatureFlag | None:
        with self._database.reading() as session:
            row = _newest(session, name)
            return None if row is None else _flag(row)

    def all_current(self) -> list[FeatureFlag]:
        newest = (
            select(FlagVersionRow.name, func.max(FlagVersionRow.version).label("version"))
            .group_by(FlagVersionRow.name)
            .subquery()
        )
        with self._database.reading() as session:
            rows = session.scalars(
                select(FlagVersionRow)
                .join(
                    newest,
                    (FlagVersionRow.name == newest.c.name)
                    & (FlagVersionRow.version == newest.c.version),
                )
                .order_by(FlagVersionRow.name)
            ).all()
            return [_flag(row) for row in rows]

    def version(self, name: str, version: int) -> FeatureFlag | None:
        with self._database.reading() as session:
            row = session.get(FlagVersionRow, (name, version))
            return None if row is None else _flag(row)

    def add(self, flag: FeatureFlag, *, action: str, max_flags: int) -> FeatureFlag:
        def work(session: Session) -> FeatureFlag:
            newest = _newest(session, flag.name)
            seen = 0 if newest is None else newest.version
            if seen != flag.version - 1:
                raise flag_changed(flag.name, seen, flag.version - 1)
            if newest is None:
                names = session.scalar(select(func.count(func.distinct(FlagVersionRow.name)))) or 0
                if names >= max_flags:
                    raise ConflictError(
                        f"there are {names} feature flags already, the most a desk keeps",
                        code="too_many_flags",
                        data={"max_flags": max_flags},
                    )
            document = flag.model_dump(mode="json")
            event = append_event(
                session,
                flag.updated_by,
                action,
                f"flag:{flag.name}",
                {key: document[key] for key in document if key != "updated_by"},
                flag.updated_at_ns,
                self._key,
            )
            row = FlagVersionRow(
                name=flag.name,
                version=flag.version,
                enabled=flag.enabled,
                rollout_percent=flag.rollout_percent,
                allowed_roles=json.dumps(document["allowed_roles"]),
                environments=json.dumps(document["environments"]),
                description=flag.description,
                updated_by=flag.updated_by,
                updated_at_ns=flag.updated_at_ns,
                reason=flag.reason,
                reverted_from=flag.reverted_from,
                correlation_id=flag.correlation_id,
                audit_seq=event.seq,
            )
            session.add(row)
            session.flush()  # the primary key on (name, version) refuses a twin here
            return _flag(row)

        return self._database.write(work)

    def history(self, name: str, *, limit: int, offset: int) -> tuple[list[FeatureFlag], int]:
        with self._database.reading() as session:
            total = (
                session.scalar(
                    select(func.count())
                    .select_from(FlagVersionRow)
                    .where(FlagVersionRow.name == name)
                )
                or 0
            )
            rows = session.scalars(
                select(FlagVersionRow)
                .where(FlagVersionRow.name == name)
                .order_by(FlagVersionRow.version.desc())
                .limit(limit)
                .offset(offset)
            ).all()
            return [_flag(row) for row in rows], int(total)


def _newest(session: Session, name: str) -> FlagVersionRow | None:
    return session.scalars(
        select(FlagVersionRow)
        .where(FlagVersionRow.name == name)
        .order_by(FlagVersionRow.version.desc())
        .limit(1)
    ).first()


def _flag(row: FlagVersionRow) -> FeatureFlag:
    return FeatureFlag(
        name=row.name,
        version=row.version,
        enabled=row.enabled,
        rollout_percent=row.rollout_percent,
        allowed_roles=json.loads(row.allowed_roles),
        environments=json.loads(row.environments),
        description=row.description,
        updated_by=row.updated_by,
        updated_at_ns=row.updated_at_ns,
        reason=row.reason,
        reverted_from=row.reverted_from,
        correlation_id=row.correlation_id,
    )
