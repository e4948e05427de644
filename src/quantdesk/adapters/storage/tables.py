"""The registry's tables (SQLAlchemy 2 typed declarative); migrations/ creates them.

Nothing here is updated in place: versions and audit events are only inserted; tags move by
replacing one row (the audit log keeps where they were), deprecations are inserted once. The
one exception is ``audit_head``, the pointer to the newest event, rewritten by every append.
"""

from sqlalchemy import BigInteger, ForeignKeyConstraint, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class StrategyVersionRow(Base):
    __tablename__ = "strategy_versions"
    __table_args__ = (
        UniqueConstraint("strategy_id", "version", name="uq_strategy_versions_id_version"),
        Index("ix_strategy_versions_family", "family"),
    )

    row_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    strategy_id: Mapped[str] = mapped_column(String(63))
    version: Mapped[int]
    family: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    content_hash: Mapped[str] = mapped_column(String(64))
    content: Mapped[str] = mapped_column(Text, doc="canonical JSON: the bytes that were hashed")
    author: Mapped[str] = mapped_column(String(200))
    created_at_ns: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    audit_seq: Mapped[int | None] = mapped_column(BigInteger, doc="its strategy_registered event")
    audit_hash: Mapped[str | None] = mapped_column(String(64), doc="that event's hash: an anchor")


class StrategyTagRow(Base):
    """A tag names one version of a strategy at a time (``live`` moves, history stays)."""

    __tablename__ = "strategy_tags"
    __table_args__ = (
        ForeignKeyConstraint(
            ["strategy_id", "version"],
            ["strategy_versions.strategy_id", "strategy_versions.version"],
            name="fk_strategy_tags_version",
        ),
    )

    strategy_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    tag: Mapped[str] = mapped_column(String(40), primary_key=True)
    version: Mapped[int]
    actor: Mapped[str] = mapped_column(String(200))
    at_ns: Mapped[int] = mapped_column(BigInteger)


class StrategyDeprecationRow(Base):
    __tablename__ = "strategy_deprecations"
    __table_args__ = (
        ForeignKeyConstraint(
            ["strategy_id", "version"],
            ["strategy_versions.strategy_id", "strategy_versions.version"],
            name="fk_strategy_deprecations_version",
        ),
    )

    strategy_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True)
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    at_ns: Mapped[int] = mapped_column(BigInteger)


class AuditEventRow(Base):
    """Append-only and hash-chained; ``seq`` as primary key forbids two events per number."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at_ns: Mapped[int] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(60))
    subject: Mapped[str] = mapped_column(String(200))
    payload: Mapped[str] = mapped_column(Text, doc="canonical JSON")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    mac: Mapped[str | None] = mapped_column(String(64), doc="HMAC of hash under the audit key")


class AuditHeadRow(Base):
    """The newest event (one row, replaced on every append; sealed by the key when keyed)."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    mac: Mapped[str | None] = mapped_column(String(64))


class StrategyValidationRow(Base):
    """Validation outcomes of a version, appended per check (the newest row is its outcome).

    Not a foreign key to the version: a report is about content, and a desk may validate a
    version again whenever its catalog changes; history of outcomes stays.
    """

    __tablename__ = "strategy_validations"
    __table_args__ = (Index("ix_strategy_validations_version", "strategy_id", "version"),)

    row_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    strategy_id: Mapped[str] = mapped_column(String(63))
    version: Mapped[int]
    content_hash: Mapped[str] = mapped_column(String(64))
    ok: Mapped[bool]
    report: Mapped[str] = mapped_column(Text, doc="JSON: problems, skipped checks, engine")
    checked_at_ns: Mapped[int] = mapped_column(BigInteger)
