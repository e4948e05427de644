"""What the optimisation routes take and answer: a study submitted as a job, and the stored
studies (their rows; the whole report is the domain's ``StudyReport``, as written)."""

from pydantic import BaseModel, ConfigDict

from quantdesk.api.schemas.jobs import JobOut
from quantdesk.domain.optimisation.study import StudyRecord, StudySettings


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OptimisationCreate(StudySettings):
    """One stored study of a version (resumed when ``study`` names one with the same
    settings). ``space`` is a space file's content (default: derived from the family's
    bounds); a custom objective's weights go in it, as in the file."""


class OptimisationAccepted(_Body):
    """A study submitted as a job (kind ``optimisation``): follow it at ``job``; its result
    is the study's summary, its report ``GET /studies/{name}``."""

    ref: str
    job: JobOut


class StudyOut(_Body):
    name: str
    ref: str
    space_sha256: str
    objective: str
    sampler: str
    seed: int
    state: str
    trials_requested: int
    best_number: int | None
    best_value: float | None
    registered_ref: str | None
    actor: str
    created_ns: int
    updated_ns: int

    @classmethod
    def of(cls, record: StudyRecord) -> "StudyOut":
        values = record.model_dump(mode="json", exclude={"report_dir"})
        return cls(**values)  # a server path stays on the server
