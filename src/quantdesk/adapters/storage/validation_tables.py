"""The tables of validation policies, validation records and promotion overrides (0009).

All three are inserted once and never updated: a policy change is a new version, a new
validation a new record, a second override a new row. Records and overrides name the exact
content hash they judged, so a new version of a strategy finds none of its predecessor's.
"""

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from quantdesk.adapters.storage.tables import Base


class ValidationPolicyRow(Base):
    __tablename__ = "validation_policies"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    body: Mapped[str] = mapped_column(Text, doc="canonical JSON of the ValidationPolicy")
    sha256: Mapped[str] = mapped_column(String(64))
    author: Mapped[str] = mapped_column(String(200))
    created_at_ns: Mapped[int] = mapped_column(BigInteger)


class ValidationRecordRow(Base):
    __tablename__ = "validation_records"
    __table_args__ = (
        Index("ix_validation_records_version", "strategy_id", "version", "content_hash"),
        Index("ix_validation_records_finished", "finished_at_ns"),
    )

    validation_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    strategy_id: Mapped[str] = mapped_column(String(63))
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    policy_name: Mapped[str] = mapped_column(String(64))
    policy_version: Mapped[int] = mapped_column(Integer)
    passed: Mapped[bool] = mapped_column(Boolean)
    failed_checks: Mapped[str] = mapped_column(Text, doc="JSON list of check names")
    candidate_fingerprint: Mapped[str] = mapped_column(String(64))
    fingerprints_sha256: Mapped[str] = mapped_column(String(64))
    trials_run: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(200))
    started_at_ns: Mapped[int] = mapped_column(BigInteger)
    finished_at_ns: Mapped[int] = mapped_column(BigInteger)
    report_path: Mapped[str] = mapped_column(Text)
    audit_seq: Mapped[int] = mapped_column(BigInteger, doc="its validation_recorded event")


class PromotionOverrideRow(Base):
    __tablename__ = "promotion_overrides"
    __table_args__ = (
        Index("ix_promotion_overrides_version", "strategy_id", "version", "content_hash"),
    )

    row_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    strategy_id: Mapped[str] = mapped_column(String(63))
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    at_ns: Mapped[int] = mapped_column(BigInteger)
    audit_seq: Mapped[int] = mapped_column(BigInteger, doc="its promotion_overridden event")
