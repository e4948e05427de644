"""``SqlValidationStore``: compatibility reports per version (appended; the newest counts)."""

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from quantdesk.adapters.storage.database import Database
from quantdesk.adapters.storage.tables import StrategyValidationRow
from quantdesk.domain.compatibility import Check, CompatibilityProblem, CompatibilityReport


class SqlValidationStore:
    """The ``ValidationStore`` port on SQLAlchemy (SQLite or PostgreSQL)."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def save(self, report: CompatibilityReport) -> None:
        row = StrategyValidationRow(
            strategy_id=report.strategy_id,
            version=report.version,
            content_hash=report.content_hash,
            ok=report.ok,
            report=json.dumps(_body(report), sort_keys=True),
            checked_at_ns=report.checked_at_ns,
        )

        def work(session: Session) -> None:
            session.add(row)

        self._database.write(work)

    def latest(self, strategy_id: str, version: int) -> CompatibilityReport | None:
        with self._database.reading() as session:
            row = session.scalars(
                select(StrategyValidationRow)
                .where(
                    StrategyValidationRow.strategy_id == strategy_id,
                    StrategyValidationRow.version == version,
                )
                .order_by(StrategyValidationRow.row_id.desc())
                .limit(1)
            ).first()
            return None if row is None else _report(row)

    def latest_of(self, strategy_id: str) -> dict[int, CompatibilityReport]:
        with self._database.reading() as session:
            rows = session.scalars(
                select(StrategyValidationRow)
                .where(StrategyValidationRow.strategy_id == strategy_id)
                .order_by(StrategyValidationRow.row_id)
            ).all()
            return {row.version: _report(row) for row in rows}  # later rows win


def _body(report: CompatibilityReport) -> dict[str, Any]:
    return {
        "problems": [[p.check.value, p.reason] for p in report.problems],
        "skipped": [[p.check.value, p.reason] for p in report.skipped],
        "engine_version": report.engine_version,
        "smoke_seconds": report.smoke_seconds,
    }


def _report(row: StrategyValidationRow) -> CompatibilityReport:
    body = json.loads(row.report)
    return CompatibilityReport(
        strategy_id=row.strategy_id,
        version=row.version,
        content_hash=row.content_hash,
        problems=tuple(CompatibilityProblem(Check(c), r) for c, r in body["problems"]),
        checked_at_ns=row.checked_at_ns,
        engine_version=body["engine_version"],
        skipped=tuple(CompatibilityProblem(Check(c), r) for c, r in body["skipped"]),
        smoke_seconds=body.get("smoke_seconds"),
    )
