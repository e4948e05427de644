"""``SqlRunIndex``: every backtest run's record and request in the desk's database.

The run's artifacts (result, fills, equity, report) stay files (``FileRunStore``); this is what
lists, filters and follows runs, from submission on. A run's strategies are rows of their own
so a strategy filter is an indexed prefix match, not a search through JSON.
"""

from collections.abc import Collection
from typing import Any, TypeVar

from sqlalchemy import (
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Select,
    String,
    Text,
    exists,
    func,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from quantdesk.adapters.storage.database import Database
from quantdesk.adapters.storage.tables import Base
from quantdesk.domain.backtest import BacktestRequest
from quantdesk.domain.errors import ConflictError, NotFoundError
from quantdesk.domain.runs import RunFilter, RunRecord, RunState, RunSummary

S = TypeVar("S", bound=Select[Any])


class BacktestRunRow(Base):
    __tablename__ = "backtest_runs"
    __table_args__ = (
        Index("ix_backtest_runs_created", "created_ns", "run_id"),
        Index("ix_backtest_runs_state", "state"),
        Index("ix_backtest_runs_submitted_by", "submitted_by"),
    )

    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(200))
    submitted_by: Mapped[str] = mapped_column(String(200))
    correlation_id: Mapped[str | None] = mapped_column(String(64))
    job_id: Mapped[str | None] = mapped_column(String(64))
    created_ns: Mapped[int] = mapped_column(BigInteger)
    started_ns: Mapped[int | None] = mapped_column(BigInteger)
    finished_ns: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)
    error_code: Mapped[str | None] = mapped_column(String(60))
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    total_return: Mapped[float | None] = mapped_column(Float)
    sharpe: Mapped[float | None] = mapped_column(Float)
    max_drawdown: Mapped[float | None] = mapped_column(Float)
    trade_count: Mapped[int | None] = mapped_column(BigInteger)
    request: Mapped[str] = mapped_column(Text, doc="the submitted request's JSON (pinned)")


class BacktestRunStrategyRow(Base):
    """The pinned references of a run, in request order."""

    __tablename__ = "backtest_run_strategies"
    __table_args__ = (Index("ix_backtest_run_strategies_ref", "ref"),)

    run_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("backtest_runs.run_id"), primary_key=True
    )
    position: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    ref: Mapped[str] = mapped_column(String(120))


class SqlRunIndex:
    """The ``RunIndex`` port on SQLAlchemy (SQLite or PostgreSQL)."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def add(self, record: RunRecord, request: BacktestRequest) -> None:
        body = request.model_dump_json()

        def work(session: Session) -> None:
            if session.get(BacktestRunRow, record.run_id) is not None:
                raise _exists(record.run_id)
            row = BacktestRunRow(run_id=record.run_id, request=body)
            _fill(row, record)
            session.add(row)
            session.add_all(
                BacktestRunStrategyRow(run_id=record.run_id, position=position, ref=ref)
                for position, ref in enumerate(record.strategies)
            )

        self._database.write(work)

    def update(self, record: RunRecord, *, expect: Collection[RunState]) -> bool:
        allowed = {state.value for state in expect}

        def work(session: Session) -> bool:
            row = session.get(BacktestRunRow, record.run_id)
            if row is None:
                raise _missing(record.run_id)
            if row.state not in allowed:
                return False
            _fill(row, record)
            return True

        return self._database.write(work)

    def get(self, run_id: str) -> RunRecord | None:
        with self._database.reading() as session:
            row = session.get(BacktestRunRow, run_id)
            return None if row is None else _record(row, _refs(session, [run_id])[run_id])

    def request(self, run_id: str) -> BacktestRequest | None:
        with self._database.reading() as session:
            body = session.scalar(
                select(BacktestRunRow.request).where(BacktestRunRow.run_id == run_id)
            )
            return None if body is None else BacktestRequest.model_validate_json(body)

    def query(self, filter: RunFilter, *, limit: int, offset: int) -> tuple[list[RunRecord], int]:
        matching = _where(select(BacktestRunRow), filter)
        counted = _where(select(func.count()).select_from(BacktestRunRow), filter)
        page = matching.order_by(
            BacktestRunRow.created_ns.desc(), BacktestRunRow.run_id.desc()
        ).limit(max(limit, 0))
        with self._database.reading() as session:
            rows = session.scalars(page.offset(max(offset, 0))).all()
            refs = _refs(session, [row.run_id for row in rows])
            total = session.scalar(counted) or 0
            return [_record(row, refs[row.run_id]) for row in rows], total


def _where(statement: S, filter: RunFilter) -> S:
    """``filter`` as SQL; the same predicate as ``RunFilter.matches``."""
    row = BacktestRunRow
    if filter.state is not None:
        statement = statement.where(row.state == filter.state.value)
    if filter.label is not None:
        statement = statement.where(row.label == filter.label)
    if filter.submitted_by is not None:
        statement = statement.where(row.submitted_by == filter.submitted_by)
    if filter.since_ns is not None:
        statement = statement.where(row.created_ns >= filter.since_ns)
    if filter.until_ns is not None:
        statement = statement.where(row.created_ns <= filter.until_ns)
    if filter.strategy is not None:
        strategy = BacktestRunStrategyRow
        statement = statement.where(
            exists().where(
                strategy.run_id == row.run_id,
                strategy.ref.startswith(filter.strategy, autoescape=True),
            )
        )
    return statement


def _refs(session: Session, run_ids: list[str]) -> dict[str, tuple[str, ...]]:
    found: dict[str, list[str]] = {run_id: [] for run_id in run_ids}
    if run_ids:
        strategy = BacktestRunStrategyRow
        rows = session.execute(
            select(strategy.run_id, strategy.ref)
            .where(strategy.run_id.in_(run_ids))
            .order_by(strategy.run_id, strategy.position)
        )
        for run_id, ref in rows:
            found[run_id].append(ref)
    return {run_id: tuple(refs) for run_id, refs in found.items()}


def _fill(row: BacktestRunRow, record: RunRecord) -> None:
    summary = record.summary
    row.state = record.state.value
    row.label = record.label
    row.submitted_by = record.submitted_by
    row.correlation_id = record.correlation_id
    row.job_id = record.job_id
    row.created_ns = record.created_ns
    row.started_ns = record.started_ns
    row.finished_ns = record.finished_ns
    row.error = record.error
    row.error_code = record.error_code
    row.fingerprint = record.fingerprint
    row.total_return = None if summary is None else summary.total_return
    row.sharpe = None if summary is None else summary.sharpe
    row.max_drawdown = None if summary is None else summary.max_drawdown
    row.trade_count = None if summary is None else summary.trade_count


def _record(row: BacktestRunRow, strategies: tuple[str, ...]) -> RunRecord:
    summary = None
    if row.total_return is not None and row.max_drawdown is not None:
        summary = RunSummary(
            total_return=row.total_return,
            sharpe=row.sharpe,
            max_drawdown=row.max_drawdown,
            trade_count=row.trade_count or 0,
        )
    return RunRecord(
        run_id=row.run_id,
        state=RunState(row.state),
        label=row.label,
        strategies=strategies,
        submitted_by=row.submitted_by,
        correlation_id=row.correlation_id,
        job_id=row.job_id,
        created_ns=row.created_ns,
        started_ns=row.started_ns,
        finished_ns=row.finished_ns,
        error=row.error,
        error_code=row.error_code,
        fingerprint=row.fingerprint,
        summary=summary,
    )


def _exists(run_id: str) -> ConflictError:
    return ConflictError(
        f"run {run_id} is already indexed", code="run_exists", data={"run_id": run_id}
    )


def _missing(run_id: str) -> NotFoundError:
    return NotFoundError(f"no run {run_id!r}", code="run_not_found", data={"run_id": run_id})
