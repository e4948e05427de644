"""``SqlStrategyStore``: strategy versions, tags and deprecations, each write audited.

A write and its audit event commit together or not at all. The version number is decided
inside the write's locked transaction, from what is stored then, so two writers can never both
take version n; the unique (strategy_id, version) constraint would refuse it anyway.
"""

import json
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from quantdesk.adapters.storage.audit_log import append_event
from quantdesk.adapters.storage.database import Database
from quantdesk.adapters.storage.tables import (
    StrategyDeprecationRow,
    StrategyTagRow,
    StrategyVersionRow,
)
from quantdesk.domain.audit import AuditKey
from quantdesk.domain.audit_replay import (
    RegistryRecords,
    StoredDeprecation,
    StoredTag,
    StoredVersion,
)
from quantdesk.domain.correlation import current_correlation_id
from quantdesk.domain.errors import ConflictError, NotFoundError
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.domain.strategies.families import StrategyFamily
from quantdesk.domain.strategies.versions import (
    Deprecation,
    StrategyAction,
    StrategyVersion,
    is_strategy_key,
    validate_tag,
)
from quantdesk.domain.text import shown, validate_actor, validate_reason
from quantdesk.services.ports import Expect

NS = 1_000_000_000


class SqlStrategyStore:
    """The ``StrategyStore`` port on SQLAlchemy (SQLite or PostgreSQL)."""

    def __init__(self, database: Database, key: AuditKey | None = None) -> None:
        self._database = database
        self._key = key

    # --- writes ------------------------------------------------------------------------------

    def add_version(
        self, definition: StrategyDefinition, *, actor: str, at_ns: int, expect: Expect = "any"
    ) -> tuple[StrategyVersion, bool]:
        actor = validate_actor(actor)
        content = definition.canonical_json
        digest = definition.content_hash

        def work(session: Session) -> tuple[StrategyVersion, bool]:
            latest = session.scalars(
                select(StrategyVersionRow)
                .where(StrategyVersionRow.strategy_id == definition.strategy_id)
                .order_by(StrategyVersionRow.version.desc())
                .limit(1)
            ).first()
            if latest is not None and latest.content_hash == digest:
                return self._load(session, [latest])[0], False
            if latest is None and expect == "existing":
                raise NotFoundError(
                    f"strategy {definition.strategy_id!r} is not registered",
                    hint="use `quantdesk strategy add` for a new strategy",
                )
            if latest is not None and expect == "new":
                raise ConflictError(
                    f"strategy {definition.strategy_id!r} exists (version {latest.version}) "
                    "with different content",
                    hint="use `quantdesk strategy update` to make a new version",
                )
            version = 1 if latest is None else latest.version + 1
            row = StrategyVersionRow(
                strategy_id=definition.strategy_id,
                version=version,
                family=definition.family.value,
                name=definition.name,
                content_hash=digest,
                content=content,
                author=actor,
                created_at_ns=at_ns,
                reason=definition.reason,
            )
            session.add(row)
            session.flush()  # the unique (strategy_id, version) constraint speaks here
            event = append_event(
                session,
                actor,
                StrategyAction.REGISTERED,
                f"{definition.strategy_id}@{version}",
                {
                    "strategy_id": definition.strategy_id,
                    "version": version,
                    "family": definition.family.value,
                    "content_hash": digest,
                    "reason": definition.reason,
                    "correlation_id": current_correlation_id(),
                },
                at_ns,
                self._key,
            )
            row.audit_seq, row.audit_hash = event.seq, event.hash  # the version's anchor
            return self._load(session, [row])[0], True

        return self._database.write(work)

    def deprecate(
        self, strategy_id: str, version: int, *, actor: str, reason: str, at_ns: int
    ) -> tuple[StrategyVersion, bool]:
        actor = validate_actor(actor)
        reason = validate_reason(reason, "deprecation reason")

        def work(session: Session) -> tuple[StrategyVersion, bool]:
            row = self._row(session, strategy_id, version)
            if session.get(StrategyDeprecationRow, (strategy_id, version)) is not None:
                return self._load(session, [row])[0], False
            session.add(
                StrategyDeprecationRow(
                    strategy_id=strategy_id,
                    version=version,
                    actor=actor,
                    reason=reason,
                    at_ns=at_ns,
                )
            )
            append_event(
                session,
                actor,
                StrategyAction.DEPRECATED,
                f"{strategy_id}@{version}",
                {
                    "strategy_id": strategy_id,
                    "version": version,
                    "reason": reason,
                    "correlation_id": current_correlation_id(),
                },
                at_ns,
                self._key,
            )
            return self._load(session, [row])[0], True

        return self._database.write(work)

    def tag(
        self, strategy_id: str, version: int, tag: str, *, actor: str, at_ns: int
    ) -> tuple[StrategyVersion, bool]:
        actor, tag = validate_actor(actor), validate_tag(tag)

        def work(session: Session) -> tuple[StrategyVersion, bool]:
            row = self._row(session, strategy_id, version)
            current = session.get(StrategyTagRow, (strategy_id, tag))
            if current is not None and current.version == version:
                return self._load(session, [row])[0], False
            moved_from = None if current is None else current.version
            if current is not None:
                session.delete(current)
                session.flush()
            session.add(
                StrategyTagRow(
                    strategy_id=strategy_id, tag=tag, version=version, actor=actor, at_ns=at_ns
                )
            )
            append_event(
                session,
                actor,
                StrategyAction.TAGGED,
                f"{strategy_id}@{version}",
                {
                    "strategy_id": strategy_id,
                    "version": version,
                    "tag": tag,
                    "moved_from": moved_from,
                    "correlation_id": current_correlation_id(),
                },
                at_ns,
                self._key,
            )
            return self._load(session, [row])[0], True

        return self._database.write(work)

    # --- reads -------------------------------------------------------------------------------

    def get(self, strategy_id: str, version: int | None = None) -> StrategyVersion | None:
        if not is_strategy_key(strategy_id, version):  # no such row can exist
            return None
        with self._database.reading() as session:
            query = select(StrategyVersionRow).where(StrategyVersionRow.strategy_id == strategy_id)
            if version is None:
                query = query.order_by(StrategyVersionRow.version.desc()).limit(1)
            else:
                query = query.where(StrategyVersionRow.version == version)
            row = session.scalars(query).first()
            return None if row is None else self._load(session, [row])[0]

    def tagged(self, strategy_id: str, tag: str) -> StrategyVersion | None:
        if not is_strategy_key(strategy_id):
            return None
        tag = validate_tag(tag)
        with self._database.reading() as session:
            current = session.get(StrategyTagRow, (strategy_id, tag))
            if current is None:
                return None
            return self._load(session, [self._row(session, strategy_id, current.version)])[0]

    def versions(self, strategy_id: str) -> list[StrategyVersion]:
        """Every version of one strategy, oldest first."""
        if not is_strategy_key(strategy_id):
            return []
        with self._database.reading() as session:
            rows = session.scalars(
                select(StrategyVersionRow)
                .where(StrategyVersionRow.strategy_id == strategy_id)
                .order_by(StrategyVersionRow.version)
            ).all()
            return self._load(session, rows)

    def all_versions(self) -> list[StrategyVersion]:
        with self._database.reading() as session:
            rows = session.scalars(
                select(StrategyVersionRow).order_by(
                    StrategyVersionRow.strategy_id, StrategyVersionRow.version
                )
            ).all()
            return self._load(session, rows)

    def latest(
        self, family: StrategyFamily | None = None, tag: str | None = None
    ) -> list[StrategyVersion]:
        """Per strategy: its newest version, or with ``tag`` the version carrying that tag."""
        with self._database.reading() as session:
            if tag is not None:
                query = select(StrategyVersionRow).join(
                    StrategyTagRow,
                    (StrategyTagRow.strategy_id == StrategyVersionRow.strategy_id)
                    & (StrategyTagRow.version == StrategyVersionRow.version)
                    & (StrategyTagRow.tag == tag),
                )
            else:
                newest = (
                    select(
                        StrategyVersionRow.strategy_id,
                        func.max(StrategyVersionRow.version).label("version"),
                    )
                    .group_by(StrategyVersionRow.strategy_id)
                    .subquery()
                )
                query = select(StrategyVersionRow).join(
                    newest,
                    (newest.c.strategy_id == StrategyVersionRow.strategy_id)
                    & (newest.c.version == StrategyVersionRow.version),
                )
            if family is not None:
                query = query.where(StrategyVersionRow.family == family.value)
            rows = session.scalars(query.order_by(StrategyVersionRow.strategy_id)).all()
            return self._load(session, rows)

    def stored_content(self, strategy_id: str, version: int) -> str | None:
        """The exact canonical JSON stored for a version (what its content hash covers)."""
        if not is_strategy_key(strategy_id, version):
            return None
        with self._database.reading() as session:
            return session.scalar(
                select(StrategyVersionRow.content).where(
                    StrategyVersionRow.strategy_id == strategy_id,
                    StrategyVersionRow.version == version,
                )
            )

    def records(self) -> RegistryRecords:
        """Every version, tag and deprecation row as stored, for the audit's replay."""
        with self._database.reading() as session:
            versions = [
                StoredVersion(
                    strategy_id=r.strategy_id,
                    version=r.version,
                    family=r.family,
                    name=r.name,
                    content=r.content,
                    content_hash=r.content_hash,
                    author=r.author,
                    created_at_ns=r.created_at_ns,
                    reason=r.reason,
                    audit_seq=r.audit_seq,
                    audit_hash=r.audit_hash,
                )
                for r in session.scalars(
                    select(StrategyVersionRow).order_by(
                        StrategyVersionRow.strategy_id, StrategyVersionRow.version
                    )
                )
            ]
            tags = [
                StoredTag(t.strategy_id, t.tag, t.version, t.actor, t.at_ns)
                for t in session.scalars(select(StrategyTagRow))
            ]
            deprecations = [
                StoredDeprecation(d.strategy_id, d.version, d.actor, d.reason, d.at_ns)
                for d in session.scalars(select(StrategyDeprecationRow))
            ]
        return RegistryRecords(versions, tags, deprecations)

    # --- rows -> domain ----------------------------------------------------------------------

    @staticmethod
    def _row(session: Session, strategy_id: str, version: int) -> StrategyVersionRow:
        row = None
        if is_strategy_key(strategy_id, version):  # else no such row can exist
            row = session.scalars(
                select(StrategyVersionRow).where(
                    StrategyVersionRow.strategy_id == strategy_id,
                    StrategyVersionRow.version == version,
                )
            ).first()
        if row is None:
            raise NotFoundError(
                f"strategy {shown(f'{strategy_id}@{version}')} is not registered",
                hint=f"see `quantdesk strategy history {strategy_id[:63]}`",
            )
        return row

    @staticmethod
    def _load(session: Session, rows: Sequence[StrategyVersionRow]) -> list[StrategyVersion]:
        ids = {row.strategy_id for row in rows}
        tags: dict[tuple[str, int], list[str]] = {}
        deprecations: dict[tuple[str, int], Deprecation] = {}
        if ids:
            for tag_row in session.scalars(
                select(StrategyTagRow).where(StrategyTagRow.strategy_id.in_(ids))
            ):
                tags.setdefault((tag_row.strategy_id, tag_row.version), []).append(tag_row.tag)
            for dep in session.scalars(
                select(StrategyDeprecationRow).where(StrategyDeprecationRow.strategy_id.in_(ids))
            ):
                deprecations[(dep.strategy_id, dep.version)] = Deprecation(
                    actor=dep.actor, reason=dep.reason, at_ns=dep.at_ns
                )
        return [
            StrategyVersion(
                definition=_definition(row),
                content_hash=row.content_hash,
                tags=tuple(sorted(tags.get((row.strategy_id, row.version), []))),
                deprecation=deprecations.get((row.strategy_id, row.version)),
            )
            for row in rows
        ]


def _definition(row: StrategyVersionRow) -> StrategyDefinition:
    content = json.loads(row.content)
    return StrategyDefinition.model_validate(
        {
            **content,
            "version": row.version,
            "author": row.author,
            "created_at": ns_to_datetime(row.created_at_ns),
            "reason": row.reason,
        }
    )


def ns_to_datetime(ns: int) -> datetime:
    seconds, nanos = divmod(ns, NS)
    return datetime.fromtimestamp(seconds, tz=UTC).replace(microsecond=nanos // 1000)
