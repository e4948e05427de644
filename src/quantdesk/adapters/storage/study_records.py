"""``SqlStudyRecordStore``: quantdesk's rows of optimisation studies (one per study name)."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from quantdesk.adapters.storage.database import Database
from quantdesk.adapters.storage.study_tables import StudyRow
from quantdesk.domain.optimisation.study import StudyRecord

_NAME_MAX = 100


class SqlStudyRecordStore:
    """The ``StudyRecordStore`` port on the registry's database."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def get(self, name: str) -> StudyRecord | None:
        if len(name) > _NAME_MAX:
            return None
        with self._database.reading() as session:
            row = session.get(StudyRow, name)
            return None if row is None else StudyRecord.model_validate(row, from_attributes=True)

    def save(self, record: StudyRecord) -> None:
        values = record.model_dump(mode="json")

        def work(session: Session) -> None:
            row = session.get(StudyRow, record.name)
            if row is None:
                session.add(StudyRow(**values))
            else:
                for key, value in values.items():
                    setattr(row, key, value)
            session.flush()

        self._database.write(work)

    def list(self) -> list[StudyRecord]:
        with self._database.reading() as session:
            rows = session.scalars(
                select(StudyRow).order_by(StudyRow.created_ns.desc(), StudyRow.name)
            )
            return [StudyRecord.model_validate(row, from_attributes=True) for row in rows]
