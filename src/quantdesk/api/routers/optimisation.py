"""Optimisation over HTTP: a stored study as a job (``optimisation``), the studies, their
reports (JSON and HTML).

The body is checked before the job is queued: the version resolves, a given space is read
against its family's bounds and the objective against the space's weights, so a bad request
is a 404/422 now, not a failed job later. Registering the best parameters needs the right
to write strategies besides running backtests.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, status
from fastapi.responses import FileResponse

from quantdesk.api.deps import Paged, allow, parts, platform
from quantdesk.api.pagination import Page, page_of
from quantdesk.api.schemas.jobs import JobOut
from quantdesk.api.schemas.optimisation import (
    OptimisationAccepted,
    OptimisationCreate,
    StudyOut,
)
from quantdesk.api.schemas.strategies import REF_MAX_LENGTH
from quantdesk.domain.auth import Permission, Principal
from quantdesk.domain.errors import PermissionDeniedError
from quantdesk.domain.jobs import JobKind
from quantdesk.domain.optimisation.space_file import load_space
from quantdesk.domain.optimisation.study import STUDY_NAME_MAX_LENGTH, StudyReport
from quantdesk.services.optimisation.objective import objective_of
from quantdesk.services.optimisation.service import OptimisationService
from quantdesk.services.platform import Platform
from quantdesk.services.service_parts import ServiceParts

Desk = Annotated[Platform, Depends(platform)]
Parts = Annotated[ServiceParts, Depends(parts)]
Ref = Annotated[
    str, Path(min_length=1, max_length=REF_MAX_LENGTH, description="ID@VERSION or ID@TAG")
]
StudyName = Annotated[str, Path(min_length=1, max_length=STUDY_NAME_MAX_LENGTH)]


def build_router() -> APIRouter:
    router = APIRouter(tags=["optimisation"])

    @router.post(
        "/strategies/{ref}/optimisation",
        response_model=OptimisationAccepted,
        status_code=status.HTTP_202_ACCEPTED,
    )
    def optimise(
        ref: Ref,
        body: OptimisationCreate,
        desk: Desk,
        service: Parts,
        caller: Annotated[Principal, allow(Permission.backtests_run)],
    ) -> OptimisationAccepted:
        """Optimise a version's parameters as a job (one backtest per trial; minutes); the
        job's progress follows the trials, its result is the study's summary."""
        if body.register_best and not caller.allows(Permission.strategies_write):
            raise PermissionDeniedError(
                f"the role {caller.role.value} may not register versions (strategies_write)",
                data={"permission": Permission.strategies_write.value},
            )
        stored = desk.registry.resolve(ref)
        weights = None
        if body.space is not None:  # data, not a file: errors name the field, not a line
            weights = load_space(body.space, stored.definition).weights
        objective_of(body.objective, weights)
        payload = {**body.model_dump(exclude_none=True, by_alias=True), "ref": stored.ref}
        payload["actor"] = caller.username
        job = service.jobs.submit(
            JobKind.OPTIMISATION, payload, submitted_by=caller.username, subject=stored.ref
        )
        return OptimisationAccepted(ref=stored.ref, job=JobOut.of(job))

    @router.get("/studies", response_model=Page[StudyOut])
    def list_studies(
        desk: Desk, _: Annotated[Principal, allow(Permission.read)], window: Paged
    ) -> Page[StudyOut]:
        """Every stored study, newest first."""
        found = _optimiser(desk).studies()
        items = found[window.offset : window.offset + window.limit]
        return page_of([StudyOut.of(r) for r in items], len(found), window)

    @router.get("/studies/{name}", response_model=StudyReport)
    def study_report(
        name: StudyName, desk: Desk, _: Annotated[Principal, allow(Permission.read)]
    ) -> StudyReport:
        """The study's report: every trial, the re-runs of the best, parameter importance."""
        return _optimiser(desk).report(name)

    @router.get(
        "/studies/{name}/report",
        response_class=FileResponse,
        responses={200: {"content": {"text/html": {}}, "description": "the HTML report"}},
    )
    def study_html(
        name: StudyName, desk: Desk, _: Annotated[Principal, allow(Permission.read)]
    ) -> FileResponse:
        """The study's self-contained HTML report (ranked table, importance, plots)."""
        return FileResponse(_optimiser(desk).report_html(name), media_type="text/html")

    return router


def _optimiser(desk: Platform) -> OptimisationService:
    return desk.research.optimisation
