"""The routes of optimisation: a stored study as a job, the studies and their reports."""

from collections.abc import Mapping
from typing import Any, Literal

from quantdesk.api.schemas.optimisation import OptimisationAccepted, OptimisationCreate, StudyOut
from quantdesk.client._transport import Call, get, model, path, text
from quantdesk.client.models import Page
from quantdesk.domain.optimisation.study import StudyReport


def optimise(
    ref: str,
    *,
    space: Mapping[str, Any] | None = None,
    trials: int = 50,
    objective: Literal["sharpe", "sortino", "calmar", "return", "custom"] = "sharpe",
    sampler: Literal["grid", "random", "tpe"] = "tpe",
    seed: int = 0,
    study: str | None = None,
    workers: int | None = None,
    ray_address: str | None = None,
    start_ns: int | None = None,
    end_ns: int | None = None,
    register: bool = False,
    screen: bool = False,
    top: int = 3,
) -> Call[OptimisationAccepted]:
    """Optimise a version as a job (``optimisation``): its result is the study's summary,
    the whole report ``study(name)``. ``space`` is a space file's content."""
    body = OptimisationCreate(
        space=dict(space) if space is not None else None,
        trials=trials,
        objective=objective,
        sampler=sampler,
        seed=seed,
        study=study,
        workers=workers,
        ray_address=ray_address,
        start_ns=start_ns,
        end_ns=end_ns,
        register_best=register,
        screen=screen,
        top=top,
    )
    return Call(
        "POST",
        path("strategies", ref, "optimisation"),
        model(OptimisationAccepted),
        json=body.model_dump(mode="json", exclude_none=True, by_alias=True),
    )


def studies(*, limit: int = 50, offset: int = 0) -> Call[Page[StudyOut]]:
    """The stored studies, newest first."""
    return get("/studies", Page[StudyOut], limit=limit, offset=offset)


def study(name: str) -> Call[StudyReport]:
    """A study's report: every trial, the re-runs of the best, parameter importance."""
    return get(path("studies", name), StudyReport)


def study_report(name: str) -> Call[str]:
    """A study's self-contained HTML report."""
    return Call("GET", path("studies", name, "report"), text)
