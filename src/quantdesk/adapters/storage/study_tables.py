"""The table of optimisation studies (migration 0010): quantdesk's record of each study.

Optuna keeps a study's trials in its own tables, kept apart from ours (PostgreSQL: the
``optuna`` schema; SQLite: a sibling file), because its ``alembic_version`` would collide
with ours. This row is what quantdesk needs to resume a study safely (the same ref, space,
objective, sampler and seed) and to find its report and the version it registered.
"""

from sqlalchemy import BigInteger, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from quantdesk.adapters.storage.tables import Base


class StudyRow(Base):
    __tablename__ = "optimisation_studies"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    ref: Mapped[str] = mapped_column(String(200))
    space_sha256: Mapped[str] = mapped_column(String(64))
    objective: Mapped[str] = mapped_column(Text)
    sampler: Mapped[str] = mapped_column(String(16))
    seed: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16))
    trials_requested: Mapped[int] = mapped_column(Integer)
    best_number: Mapped[int | None] = mapped_column(Integer)
    best_value: Mapped[float | None] = mapped_column(Float)
    registered_ref: Mapped[str | None] = mapped_column(String(200))
    report_dir: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(200))
    created_ns: Mapped[int] = mapped_column(BigInteger)
    updated_ns: Mapped[int] = mapped_column(BigInteger)
