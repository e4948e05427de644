"""``SqlJobStore``: job rows on the registry's database (SQLite or PostgreSQL).

One row per job, rewritten as it moves (state, progress, result); the row also names its
owner (the service process that runs it) and a cancel asked of it by another process.
"""

import builtins
import json
from typing import Any

from sqlalchemy import BigInteger, Float, Index, String, Text, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from quantdesk.adapters.storage.database import Database
from quantdesk.adapters.storage.tables import Base
from quantdesk.domain.jobs import (
    FINISHED,
    UNFINISHED,
    JobFilter,
    JobKind,
    JobRecord,
    JobState,
    JobStats,
)


class JobRow(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_state", "state"),
        Index("ix_jobs_kind", "kind"),
        Index("ix_jobs_submitted_by", "submitted_by"),
        Index("ix_jobs_created", "created_ns"),
        Index("ix_jobs_subject", "subject"),
    )

    job_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    payload: Mapped[str] = mapped_column(Text, doc="JSON object")
    subject: Mapped[str | None] = mapped_column(String(200))
    submitted_by: Mapped[str] = mapped_column(String(200))
    correlation_id: Mapped[str | None] = mapped_column(String(64))
    created_ns: Mapped[int] = mapped_column(BigInteger)
    started_ns: Mapped[int | None] = mapped_column(BigInteger)
    finished_ns: Mapped[int | None] = mapped_column(BigInteger)
    progress: Mapped[float] = mapped_column(Float)
    eta_seconds: Mapped[float | None] = mapped_column(Float)
    message: Mapped[str | None] = mapped_column(String(500))
    result: Mapped[str | None] = mapped_column(Text, doc="JSON object")
    error: Mapped[str | None] = mapped_column(Text)
    error_code: Mapped[str | None] = mapped_column(String(64))
    owner: Mapped[str | None] = mapped_column(String(200), doc="host:pid:instance")
    cancel_reason: Mapped[str | None] = mapped_column(String(2000))


def _fill(row: JobRow, job: JobRecord) -> None:
    row.kind = job.kind.value
    row.state = job.state.value
    row.payload = json.dumps(job.payload, sort_keys=True)
    row.subject = job.subject
    row.submitted_by = job.submitted_by
    row.correlation_id = job.correlation_id
    row.created_ns = job.created_ns
    row.started_ns = job.started_ns
    row.finished_ns = job.finished_ns
    row.progress = job.progress
    row.eta_seconds = job.eta_seconds
    row.message = job.message
    row.result = None if job.result is None else json.dumps(job.result, sort_keys=True)
    row.error = job.error
    row.error_code = job.error_code
    if job.finished:
        row.cancel_reason = None


def _record(row: JobRow) -> JobRecord:
    return JobRecord(
        job_id=row.job_id,
        kind=JobKind(row.kind),
        state=JobState(row.state),
        payload=json.loads(row.payload),
        subject=row.subject,
        submitted_by=row.submitted_by,
        correlation_id=row.correlation_id,
        created_ns=row.created_ns,
        started_ns=row.started_ns,
        finished_ns=row.finished_ns,
        progress=row.progress,
        eta_seconds=row.eta_seconds,
        message=row.message,
        result=None if row.result is None else json.loads(row.result),
        error=row.error,
        error_code=row.error_code,
    )


def _where(filter: JobFilter) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    if filter.kind is not None:
        clauses.append(JobRow.kind == filter.kind.value)
    if filter.state is not None:
        clauses.append(JobRow.state == filter.state.value)
    if filter.submitted_by is not None:
        clauses.append(JobRow.submitted_by == filter.submitted_by)
    if filter.subject is not None:
        clauses.append(JobRow.subject == filter.subject)
    return clauses


class SqlJobStore:
    """The ``JobStore`` port on SQLAlchemy."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def add(self, job: JobRecord, *, owner: str) -> None:
        row = JobRow(job_id=job.job_id, owner=owner)
        _fill(row, job)

        def work(session: Session) -> None:
            session.add(row)

        self._database.write(work)

    def get(self, job_id: str) -> JobRecord | None:
        with self._database.reading() as session:
            row = session.get(JobRow, job_id)
            return None if row is None else _record(row)

    def update(self, job: JobRecord, *, owner: str | None = None) -> None:
        def work(session: Session) -> None:
            row = session.get(JobRow, job.job_id)
            if row is None:
                raise KeyError(job.job_id)
            _fill(row, job)
            if owner is not None:
                row.owner = owner

        self._database.write(work)

    def list(
        self, filter: JobFilter, *, limit: int, offset: int
    ) -> tuple[builtins.list[JobRecord], int]:
        clauses = _where(filter)
        with self._database.reading() as session:
            total = session.scalar(select(func.count()).select_from(JobRow).where(*clauses))
            rows = session.scalars(
                select(JobRow)
                .where(*clauses)
                .order_by(JobRow.created_ns.desc(), JobRow.job_id.desc())
                .limit(limit)
                .offset(offset)
            ).all()
            return [_record(row) for row in rows], int(total or 0)

    def unfinished(self) -> builtins.list[tuple[JobRecord, str]]:
        with self._database.reading() as session:
            rows = session.scalars(
                select(JobRow)
                .where(JobRow.state.in_([s.value for s in UNFINISHED]))
                .order_by(JobRow.created_ns, JobRow.job_id)
            ).all()
            return [(_record(row), row.owner or "") for row in rows]

    def owner(self, job_id: str) -> str | None:
        with self._database.reading() as session:
            return session.scalar(select(JobRow.owner).where(JobRow.job_id == job_id))

    def claim(self, job_id: str, expected: str | None, owner: str) -> bool:
        def work(session: Session) -> bool:
            held = JobRow.owner.is_(None) if expected in (None, "") else JobRow.owner == expected
            done: Any = session.execute(
                update(JobRow).where(JobRow.job_id == job_id, held).values(owner=owner)
            )
            return bool(done.rowcount == 1)

        return self._database.write(work)

    def request_cancel(self, job_id: str, reason: str) -> None:
        def work(session: Session) -> None:
            session.execute(
                update(JobRow)
                .where(JobRow.job_id == job_id, JobRow.state.in_([s.value for s in UNFINISHED]))
                .values(cancel_reason=reason[:2000])
            )

        self._database.write(work)

    def cancel_requests(self, owner: str) -> builtins.list[tuple[str, str]]:
        with self._database.reading() as session:
            rows = session.execute(
                select(JobRow.job_id, JobRow.cancel_reason).where(
                    JobRow.owner == owner,
                    JobRow.cancel_reason.is_not(None),
                    JobRow.state.in_([s.value for s in UNFINISHED]),
                )
            ).all()
            return [(job_id, reason or "") for job_id, reason in rows]

    def stats(self) -> JobStats:
        with self._database.reading() as session:
            counts = session.execute(
                select(JobRow.kind, JobRow.state, func.count()).group_by(JobRow.kind, JobRow.state)
            ).all()
            finished = session.execute(
                select(
                    JobRow.kind,
                    func.count(),
                    func.sum(JobRow.finished_ns - JobRow.started_ns),
                )
                .where(
                    JobRow.state.in_([s.value for s in FINISHED]),
                    JobRow.started_ns.is_not(None),
                    JobRow.finished_ns.is_not(None),
                )
                .group_by(JobRow.kind)
            ).all()
        return JobStats(
            counts={(JobKind(k), JobState(s)): int(n) for k, s, n in counts},
            finished={JobKind(k): int(n) for k, n, _ in finished},
            finished_seconds={JobKind(k): int(ns or 0) / 1e9 for k, _, ns in finished},
        )
