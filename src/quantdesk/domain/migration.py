"""A migration of a database table into the catalog, as it is recorded (issue 16).

A migration is a sequence of runs over one mapping. Each run reads the rows after the
mapping's watermark and commits them chunk by chunk; after each committed chunk a
checkpoint (the new watermark, the chunk's counts and digests, its rejected rows and its
rows per source day) is stored in one transaction, so a run killed at any point resumes at
the last checkpoint: the catalog never receives a row twice (rows it holds are recognised
and counted as present) and no row is skipped. The same record makes a run incremental.
"""

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from quantdesk.domain.market_data import Rejection


class Watermark(BaseModel):
    """The last timestamp taken, as the source wrote it (a SQL time, naive or zone-aware, or
    an epoch integer): the next read takes the rows strictly after it."""

    model_config = ConfigDict(frozen=True)

    timestamp: datetime | int


class MigrationState(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class MigrationCheckpoint(BaseModel):
    """Where a mapping's migration stands: its watermark and the mapping it was made with."""

    model_config = ConfigDict(frozen=True)

    mapping_name: str
    mapping_sha256: str
    watermark: Watermark | None
    migration_id: str
    chunks: int = Field(ge=0)
    updated_ns: int


class ChunkRecord(BaseModel):
    """One committed chunk: what it read, wrote, found present and rejected, and the digest
    of its valid rows as read from the source and as read back from the catalog."""

    model_config = ConfigDict(frozen=True)

    migration_id: str
    chunk: int = Field(ge=1)
    first_row: int = Field(ge=1)
    rows_read: int = Field(ge=0)
    rows_written: int = Field(ge=0)
    rows_present: int = Field(ge=0)
    rows_rejected: int = Field(ge=0)
    watermark: Watermark | None
    source_sha256: str
    catalog_sha256: str
    remigrated_day: int | None = None  # the source day re-read for late rows, if that
    committed_ns: int


class MigrationRun(BaseModel):
    """One run of ``data migrate`` over a mapping."""

    model_config = ConfigDict(frozen=True)

    migration_id: str
    mapping_name: str
    source: str  # the DSN without its password, and the table
    table: str
    kind: str
    state: MigrationState
    actor: str
    started_ns: int
    finished_ns: int | None = None
    rows_read: int = 0
    rows_written: int = 0
    rows_present: int = 0
    rows_rejected: int = 0
    chunks: int = 0
    late_days: list[int] = Field(default_factory=list)  # source days re-migrated
    shrunk_days: list[int] = Field(default_factory=list)  # days with fewer rows than migrated
    warnings_by_kind: dict[str, int] = Field(
        default_factory=dict, description="kept rows that look wrong (a crossed book or quote)"
    )
    watermark: Watermark | None = None
    error: str | None = None


class ChunkCheckpoint(BaseModel):
    """What ``MigrationStore.save_chunk`` stores in one transaction."""

    model_config = ConfigDict(frozen=True)

    record: ChunkRecord
    checkpoint: MigrationCheckpoint
    rejections: list[Rejection]
    days_added: dict[int, int] = Field(default_factory=dict)  # rows read per source day


class DayCheck(BaseModel):
    """One instrument's UTC day, compared between source and catalog by ``data verify``."""

    model_config = ConfigDict(frozen=True)

    instrument_id: str
    day: str  # YYYY-MM-DD, UTC
    source_rows: int
    catalog_rows: int
    source_sha256: str
    catalog_sha256: str

    @property
    def equal(self) -> bool:
        return self.source_rows == self.catalog_rows and self.source_sha256 == self.catalog_sha256


class VerifyReport(BaseModel):
    """Both sides of the migrated range, day by day; the migration is complete when it passes."""

    model_config = ConfigDict(frozen=True)

    mapping_name: str
    source: str
    watermark: Watermark | None
    rows_source: int
    rows_catalog: int
    rows_rejected: int
    days: list[DayCheck]

    @property
    def differences(self) -> list[DayCheck]:
        return [d for d in self.days if not d.equal]

    @property
    def passed(self) -> bool:
        return self.watermark is not None and not self.differences
