"""What the optimisation routes take and answer: a study submitted as a job, and the stored
studies (their rows; the whole report is the domain's ``StudyReport``, as written)."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from quantdesk.api.schemas.jobs import JobOut
from quantdesk.domain.optimisation.study import StudyRecord

NS_MAX = 2**63 - 1
STUDY_NAME_MAX_LENGTH = 100


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OptimisationCreate(_Body):
    """One stored study of a version (resumed when ``study`` names one with the same
    settings). ``space`` is a space file's content (default: derived from the family's
    bounds); a custom objective's weights go in it, as in the file."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    space: dict[str, JsonValue] | None = None
    trials: int = Field(default=50, ge=1, le=100_000)
    objective: Literal["sharpe", "sortino", "calmar", "return", "custom"] = "sharpe"
    sampler: Literal["grid", "random", "tpe"] = "tpe"
    seed: int = Field(default=0, ge=0, le=2**32 - 1)
    workers: int | None = Field(default=None, ge=1, le=256)
    ray_address: str | None = Field(default=None, min_length=1, max_length=300)
    study: str | None = Field(
        default=None,
        min_length=1,
        max_length=STUDY_NAME_MAX_LENGTH,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
    )
    start_ns: int | None = Field(default=None, ge=0, le=NS_MAX)
    end_ns: int | None = Field(default=None, ge=0, le=NS_MAX)
    register_best: bool = Field(  # BaseModel has .register: the wire name is "register"
        default=False, alias="register", description="register the best as a new version"
    )
    screen: bool = Field(default=False, description="rank the grid by the vectorised screen")
    top: int = Field(default=3, ge=0, le=20, description="best trials re-run and checked")


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
