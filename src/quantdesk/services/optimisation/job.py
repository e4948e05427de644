"""The ``optimisation`` job: one stored study in a job worker, its progress on the job, a
summary of the report as its result (the whole report is ``GET /studies/{name}``: a study of
many trials would outgrow a job's result).

The payload is checked here whole (a job store row is not trusted input): the study's
settings, and optionally a space given as data (the API's body; the CLI reads a file).
Progress: the trials carry most of the percent, the re-runs of the best the rest.
"""

from collections.abc import Mapping
from typing import TYPE_CHECKING

from pydantic import ConfigDict, Field, JsonValue, ValidationError

from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.optimisation.space_file import load_space
from quantdesk.domain.optimisation.study import Sampler, StudyReport, StudySettings
from quantdesk.services.job_progress import PercentProgress
from quantdesk.services.optimisation.objective import objective_of
from quantdesk.services.optimisation.service import RERUN_TASK, TRIALS_TASK, OptimisationService
from quantdesk.services.ports.jobs import JobChannel

if TYPE_CHECKING:
    from quantdesk.services.platform import Platform

OPTIMISATION_TASKS = ((TRIALS_TASK, 9.0), (RERUN_TASK, 1.0))


class OptimisationJobPayload(StudySettings):
    """What ``POST /strategies/{ref}/optimisation`` submits (strict: no coercion)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, populate_by_name=True)

    ref: str = Field(min_length=1, max_length=200)
    actor: str = Field(min_length=1, max_length=200)


def optimisation_job(
    platform: "Platform", payload: Mapping[str, JsonValue], channel: JobChannel
) -> dict[str, JsonValue]:
    try:
        job = OptimisationJobPayload.model_validate(dict(payload))
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "payload"
        raise InvalidInputError(
            f"the job's payload: {field}: {first['msg']}",
            code="job_payload",
            data={"field": field},
        ) from None
    service: OptimisationService = platform.research.optimisation
    space, weights = None, None
    if job.space is not None:
        loaded = load_space(job.space, service.definition(job.ref), name="space")
        space, weights = loaded.space, loaded.weights
    report = service.optimize(
        job.ref,
        space=space,
        trials=job.trials,
        objective=objective_of(job.objective, weights),
        sampler=Sampler(job.sampler),
        seed=job.seed,
        workers=job.workers,
        ray_address=job.ray_address,
        study_name=job.study,
        start_ns=job.start_ns,
        end_ns=job.end_ns,
        register=job.register_best,
        actor=job.actor,
        progress=PercentProgress(channel, OPTIMISATION_TASKS),
        screen=job.screen,
        top_k=job.top,
    )
    return summary_of(report)


def summary_of(report: StudyReport) -> dict[str, JsonValue]:
    """The job's result: what the study found and whether its best trials reproduced."""
    best = report.best
    return {
        "study_name": report.study_name,
        "ref": report.ref,
        "objective": report.objective.describe(),
        "sampler": report.sampler.value,
        "seed": report.seed,
        "trials": len(report.trials),
        "complete": sum(1 for t in report.trials if t.value is not None),
        "best_number": report.best_number,
        "best_value": None if best is None else best.value,
        "best_params": None if best is None else dict(best.params),
        "reruns_matched": all(r.matched for r in report.reruns),
        "registered_ref": report.registered_ref,
        "resumed": report.resumed,
    }
