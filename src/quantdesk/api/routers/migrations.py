"""``/data/migrations``: PostgreSQL tables into the catalog as jobs, their runs and rejects.

A request names a source the service's configuration defines (``migration_sources``), never
a URL, so no client can point the service at a database or learn a password. The mapping is
checked before the job is queued (the source named, its instruments defined), so a bad
request is a 404/422 now; reading the table is the job's.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, status

from quantdesk.api.deps import Paged, allow, parts, platform
from quantdesk.api.pagination import Page, page_of
from quantdesk.api.schemas.jobs import JobOut
from quantdesk.api.schemas.migrations import (
    MigrationAccepted,
    MigrationCreate,
    SourcesOut,
    VerifyCreate,
)
from quantdesk.domain.auth import Permission, Principal
from quantdesk.domain.jobs import JobKind
from quantdesk.domain.market_data import Rejection
from quantdesk.domain.migration import MigrationRun
from quantdesk.services.platform import Platform
from quantdesk.services.service_parts import ServiceParts

Desk = Annotated[Platform, Depends(platform)]
Parts = Annotated[ServiceParts, Depends(parts)]
Reader = Annotated[Principal, allow(Permission.read)]
Writer = Annotated[Principal, allow(Permission.data_write)]
MigrationId = Annotated[str, Path(min_length=1, max_length=100)]
RUNS_MAX = 10_000


def build_router() -> APIRouter:
    router = APIRouter(prefix="/data", tags=["migrations"])

    @router.get("/migration-sources", response_model=SourcesOut)
    def sources(desk: Desk, _: Reader) -> SourcesOut:
        """The sources a migration may name."""
        return SourcesOut(sources=desk.migrations.source_names())

    @router.post(
        "/migrations", response_model=MigrationAccepted, status_code=status.HTTP_202_ACCEPTED
    )
    def migrate(
        body: MigrationCreate, desk: Desk, service: Parts, caller: Writer
    ) -> MigrationAccepted:
        """Migrate a table's new rows (and late ones) as a job; its progress is the rows
        read, its result the run (``GET /data/migrations/{id}``)."""
        _check(desk, body.source, body)
        payload = {**body.model_dump(mode="json"), "actor": caller.username}
        job = service.jobs.submit(
            JobKind.MIGRATION, payload, submitted_by=caller.username, subject=body.mapping.name
        )
        return MigrationAccepted(mapping=body.mapping.name, job=JobOut.of(job))

    @router.post(
        "/migrations/verify",
        response_model=MigrationAccepted,
        status_code=status.HTTP_202_ACCEPTED,
    )
    def verify(body: VerifyCreate, desk: Desk, service: Parts, caller: Writer) -> MigrationAccepted:
        """Verify a mapping's migrated range as a job; its result says whether it passed and
        which instrument-days differ."""
        _check(desk, body.source, body)
        job = service.jobs.submit(
            JobKind.MIGRATION_VERIFY,
            body.model_dump(mode="json"),
            submitted_by=caller.username,
            subject=body.mapping.name,
        )
        return MigrationAccepted(mapping=body.mapping.name, job=JobOut.of(job))

    @router.get("/migrations", response_model=Page[MigrationRun])
    def runs(
        desk: Desk,
        _: Reader,
        window: Paged,
        mapping: Annotated[str | None, Query(max_length=100)] = None,
    ) -> Page[MigrationRun]:
        """Migration runs, newest first."""
        found = list(desk.migrations.runs(mapping, limit=RUNS_MAX))
        items = found[window.offset : window.offset + window.limit]
        return page_of(items, len(found), window)

    @router.get("/migrations/{migration_id}", response_model=MigrationRun)
    def run(desk: Desk, _: Reader, migration_id: MigrationId) -> MigrationRun:
        return desk.migrations.run(migration_id)

    @router.get("/migrations/{migration_id}/rejects", response_model=Page[Rejection])
    def rejects(desk: Desk, _: Reader, window: Paged, migration_id: MigrationId) -> Page[Rejection]:
        """A run's rejected rows: source row number, field, value, reason."""
        found = desk.migrations.run(migration_id)
        items = desk.migrations.rejections(migration_id, window.offset, window.limit)
        return page_of(items, found.rows_rejected, window)

    return router


def _check(desk: Platform, source: str, body: MigrationCreate | VerifyCreate) -> None:
    """Refused now rather than as a failed job: an unknown source, an undefined instrument,
    a kind not migrated yet."""
    migrations = desk.migrations
    migrations.source_url(source, allow_url=False)
    migrations.check(body.mapping)
