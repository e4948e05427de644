"""Studies: what an optimisation asked for and what it found.

``SearchResult`` is the in-memory outcome of ``OptimisationService.search`` (walk-forward
calls it per window); ``StudyReport`` is what a stored study (``optimize``) reports: every
trial with its fingerprint, the parameter importance, the re-runs of the best trials (they
must reproduce), and the version registered from the best parameters. ``StudyRecord`` is
quantdesk's own row of a study (Optuna keeps the trials in its storage).
"""

from enum import StrEnum
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

from quantdesk.domain.backtest import Metrics
from quantdesk.domain.optimisation.space import Params, SearchSpace
from quantdesk.domain.trials import TrialOutcome

STUDY_NAME_MAX_LENGTH = 100

# Metrics fields a custom objective may weigh: the numeric ones (None counts as "no value").
WEIGHABLE_METRICS = frozenset(
    name
    for name, info in Metrics.model_fields.items()
    if info.annotation in (float, int, float | None, int | None)
)


class ObjectiveKind(StrEnum):
    SHARPE = "sharpe"
    SORTINO = "sortino"
    CALMAR = "calmar"
    RETURN = "return"  # total_return
    CUSTOM = "custom"  # sum of weight * metric over ``weights``


class Objective(BaseModel):
    """What a study maximises; ``custom`` is a linear combination of Metrics fields."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    kind: ObjectiveKind = ObjectiveKind.SHARPE
    weights: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _weights(self) -> Self:
        if self.kind is ObjectiveKind.CUSTOM:
            if not self.weights:
                raise ValueError("a custom objective needs weights over metrics")
            unknown = sorted(set(self.weights) - WEIGHABLE_METRICS)
            if unknown:
                allowed = ", ".join(sorted(WEIGHABLE_METRICS))
                raise ValueError(f"not a numeric metric: {', '.join(unknown)}; allowed: {allowed}")
        elif self.weights:
            raise ValueError(f"weights are for the custom objective, not {self.kind.value}")
        return self

    def describe(self) -> str:
        if self.kind is not ObjectiveKind.CUSTOM:
            return self.kind.value
        terms = " + ".join(f"{w:g}*{name}" for name, w in sorted(self.weights.items()))
        return f"custom({terms})"


class Sampler(StrEnum):
    GRID = "grid"
    RANDOM = "random"
    TPE = "tpe"


class TrialState(StrEnum):
    COMPLETE = "complete"  # ran, has an objective value
    FAIL = "fail"  # ran but has no value (no trades, no variance) or the run failed
    INFEASIBLE = "infeasible"  # the parameters break the family's rules; never ran
    RUNNING = "running"  # asked, not told (a killed process leaves these; resume fails them)


class SearchTrial(BaseModel):
    """One trial of an in-memory search: the point, what the backtest gave, its value."""

    model_config = ConfigDict(frozen=True)

    number: int
    params: Params
    outcome: TrialOutcome
    value: float | None  # None: infeasible or failed (the reason in outcome.error)

    @property
    def state(self) -> TrialState:
        if self.outcome.code == "infeasible":
            return TrialState.INFEASIBLE
        return TrialState.COMPLETE if self.value is not None else TrialState.FAIL


class SearchResult(BaseModel):
    """Every trial in number order and the best one (highest value; ties: lowest number)."""

    model_config = ConfigDict(frozen=True)

    trials: list[SearchTrial]
    best: SearchTrial | None


class StudyTrial(BaseModel):
    """One trial of a stored study, as reported."""

    model_config = ConfigDict(frozen=True)

    number: int
    params: Params
    value: float | None
    state: TrialState
    fingerprint: str = ""
    fills_sha256: str = ""
    metrics: Metrics | None = None
    key: str = ""
    reason: str | None = None  # why it failed or was infeasible


class Rerun(BaseModel):
    """A top trial re-run as an ordinary stored backtest: it must reproduce the trial."""

    model_config = ConfigDict(frozen=True)

    number: int
    fingerprint: str
    run_id: str
    fills_sha256: str = ""
    value: float | None = None
    matched: bool


class ScreenedCandidate(BaseModel):
    model_config = ConfigDict(frozen=True)

    params: Params
    value: float | None


class ScreenSummary(BaseModel):
    """The vectorised screen that ranked a grid before the event-driven trials (``--screen``)."""

    model_config = ConfigDict(frozen=True)

    candidates: int  # grid points screened
    confirmed: int  # leaders confirmed event-driven
    wall_seconds: float
    leaders: list[ScreenedCandidate] = Field(default_factory=list)


class StudyReport(BaseModel):
    """A stored study's report (JSON beside the HTML in ``studies_dir/<study>/``)."""

    model_config = ConfigDict(frozen=True)

    study_name: str
    ref: str  # id@version optimised
    objective: Objective
    sampler: Sampler
    seed: int
    space: SearchSpace
    space_sha256: str = ""
    start_ns: int | None = None
    end_ns: int | None = None
    trials_requested: int = 0
    trials: list[StudyTrial]
    best_number: int | None
    importance: dict[str, float] = Field(default_factory=dict)
    importance_note: str = ""  # why importance is empty (too few trials, one parameter)
    reruns: list[Rerun] = Field(default_factory=list)
    registered_ref: str | None = None
    started_ns: int
    finished_ns: int
    resumed: bool = False  # the study existed and was continued
    screened: ScreenSummary | None = None

    @property
    def best(self) -> StudyTrial | None:
        return next((t for t in self.trials if t.number == self.best_number), None)

    def ranked(self) -> list[StudyTrial]:
        """Complete trials, best first (ties: lowest number), then the rest by number."""
        done = [t for t in self.trials if t.value is not None]
        done.sort(key=lambda t: (-(t.value or 0.0), t.number))
        rest = [t for t in self.trials if t.value is None]
        return done + rest


class StudyState(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class StudyRecord(BaseModel):
    """quantdesk's row of a study: what it optimises and how, so a resume cannot drift."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1, max_length=STUDY_NAME_MAX_LENGTH)
    ref: str
    space_sha256: str
    objective: str  # Objective.describe()
    sampler: Sampler
    seed: int
    state: StudyState
    trials_requested: int
    best_number: int | None = None
    best_value: float | None = None
    registered_ref: str | None = None
    report_dir: str | None = None
    actor: str = "local"
    created_ns: int
    updated_ns: int


_NS_MAX = 2**63 - 1


class StudySettings(BaseModel):
    """How a study runs, as a client gives it (the API's body is this; the job adds who and
    what). ``space`` is a space file's content; ``register`` is the wire name of
    ``register_best`` (``BaseModel`` has ``.register``)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

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
    start_ns: int | None = Field(default=None, ge=0, le=_NS_MAX)
    end_ns: int | None = Field(default=None, ge=0, le=_NS_MAX)
    register_best: bool = Field(
        default=False, alias="register", description="register the best as a new version"
    )
    screen: bool = Field(default=False, description="rank the grid by the vectorised screen")
    top: int = Field(default=3, ge=0, le=20, description="best trials re-run and checked")
