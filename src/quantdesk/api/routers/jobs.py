"""``/jobs``: every kind of job (backtests, ingests, validations): list, show, cancel."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from quantdesk.api.deps import Paged, allow, parts
from quantdesk.api.pagination import Page, page_of
from quantdesk.api.schemas.jobs import JobOut
from quantdesk.domain.auth import Permission, Principal
from quantdesk.domain.jobs import JobFilter, JobKind, JobState
from quantdesk.services.service_parts import ServiceParts

SUBMITTER_MAX_LENGTH = 200
SUBJECT_MAX_LENGTH = 200

Parts = Annotated[ServiceParts, Depends(parts)]
JobId = Annotated[str, Path(min_length=1, max_length=64, description="a job id (32 hex digits)")]


def build_router() -> APIRouter:
    router = APIRouter(prefix="/jobs", tags=["jobs"])

    @router.get("", response_model=Page[JobOut])
    def list_jobs(
        service: Parts,
        _: Annotated[Principal, allow(Permission.read)],
        window: Paged,
        kind: JobKind | None = None,
        state: JobState | None = None,
        submitted_by: Annotated[str | None, Query(max_length=SUBMITTER_MAX_LENGTH)] = None,
        subject: Annotated[
            str | None, Query(max_length=SUBJECT_MAX_LENGTH, description="e.g. a run id")
        ] = None,
    ) -> Page[JobOut]:
        """Jobs, newest first, filtered by kind, state, submitter or subject."""
        found, total = service.jobs.list(
            JobFilter(kind=kind, state=state, submitted_by=submitted_by, subject=subject),
            limit=window.limit,
            offset=window.offset,
        )
        return page_of([JobOut.of(j) for j in found], total, window)

    @router.get("/{job_id}", response_model=JobOut)
    def get_job(
        job_id: JobId, service: Parts, _: Annotated[Principal, allow(Permission.read)]
    ) -> JobOut:
        """One job: state, progress 0-100, ETA, and its result or error once finished."""
        return JobOut.of(service.jobs.get(job_id))

    @router.post("/{job_id}/cancel", response_model=JobOut)
    def cancel_job(
        job_id: JobId,
        service: Parts,
        caller: Annotated[Principal, allow(Permission.jobs_cancel)],
    ) -> JobOut:
        """Stop a pending or running job (409 once it has finished)."""
        return JobOut.of(service.jobs.cancel(job_id, actor=caller.username))

    return router
