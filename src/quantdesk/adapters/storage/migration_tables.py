"""The tables of table migrations (migration 0011): runs, checkpoints, chunks, rejects, days.

A chunk's record, its rejected rows, the mapping's new checkpoint and its rows per source
day are written in one transaction after the chunk's rows are in the catalog: the
checkpoint a resumed run starts from always describes committed data.
"""

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from quantdesk.adapters.storage.tables import Base


class MigrationRunRow(Base):
    __tablename__ = "migration_runs"
    __table_args__ = (Index("ix_migration_runs_mapping", "mapping_name", "started_ns"),)

    migration_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    mapping_name: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(Text)
    table_name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(200))
    started_ns: Mapped[int] = mapped_column(BigInteger)
    finished_ns: Mapped[int | None] = mapped_column(BigInteger)
    rows_read: Mapped[int] = mapped_column(BigInteger)
    rows_written: Mapped[int] = mapped_column(BigInteger)
    rows_present: Mapped[int] = mapped_column(BigInteger)
    rows_rejected: Mapped[int] = mapped_column(BigInteger)
    chunks: Mapped[int] = mapped_column(Integer)
    late_days: Mapped[str] = mapped_column(Text, doc="JSON list of source days")
    shrunk_days: Mapped[str] = mapped_column(Text, doc="JSON list of source days")
    warnings_by_kind: Mapped[str] = mapped_column(
        Text, server_default="{}", doc="JSON {warning kind: rows}"
    )
    watermark: Mapped[str | None] = mapped_column(Text, doc="JSON Watermark")
    error: Mapped[str | None] = mapped_column(Text)


class MigrationCheckpointRow(Base):
    __tablename__ = "migration_checkpoints"

    mapping_name: Mapped[str] = mapped_column(String(100), primary_key=True)
    mapping_sha256: Mapped[str] = mapped_column(String(64))
    watermark: Mapped[str | None] = mapped_column(Text, doc="JSON Watermark")
    migration_id: Mapped[str] = mapped_column(String(64))
    chunks: Mapped[int] = mapped_column(Integer)
    updated_ns: Mapped[int] = mapped_column(BigInteger)


class MigrationChunkRow(Base):
    __tablename__ = "migration_chunks"

    migration_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    chunk: Mapped[int] = mapped_column(Integer, primary_key=True)
    first_row: Mapped[int] = mapped_column(BigInteger)
    rows_read: Mapped[int] = mapped_column(BigInteger)
    rows_written: Mapped[int] = mapped_column(BigInteger)
    rows_present: Mapped[int] = mapped_column(BigInteger)
    rows_rejected: Mapped[int] = mapped_column(BigInteger)
    watermark: Mapped[str | None] = mapped_column(Text, doc="JSON Watermark")
    source_sha256: Mapped[str] = mapped_column(String(64))
    catalog_sha256: Mapped[str] = mapped_column(String(64))
    remigrated_day: Mapped[int | None] = mapped_column(Integer)
    committed_ns: Mapped[int] = mapped_column(BigInteger)


class MigrationRejectRow(Base):
    __tablename__ = "migration_rejects"
    __table_args__ = (Index("ix_migration_rejects_run", "migration_id", "seq"),)

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    migration_id: Mapped[str] = mapped_column(String(64))
    row: Mapped[int] = mapped_column(BigInteger)
    field: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(Text)


class MigrationDayRow(Base):
    __tablename__ = "migration_days"

    mapping_name: Mapped[str] = mapped_column(String(100), primary_key=True)
    day: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    rows: Mapped[int] = mapped_column(BigInteger)
