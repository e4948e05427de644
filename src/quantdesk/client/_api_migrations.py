"""The routes of table migrations: a migration or a verify as a job, the runs, their rejects."""

from collections.abc import Mapping
from typing import Any

from quantdesk.api.schemas.migrations import (
    MigrationAccepted,
    MigrationCreate,
    SourcesOut,
    VerifyCreate,
)
from quantdesk.client._transport import Call, get, path, post
from quantdesk.client.models import Page
from quantdesk.domain.market_data import Rejection
from quantdesk.domain.migration import MigrationRun
from quantdesk.domain.source_mapping import SourceMapping


def migration_sources() -> Call[SourcesOut]:
    """The source names the service may migrate from (their URLs stay on the server)."""
    return get("/data/migration-sources", SourcesOut)


def migrate(
    source: str, mapping: Mapping[str, Any], *, restart: bool = False
) -> Call[MigrationAccepted]:
    """Migrate a table's new rows as a job (``migration``); its result is the run.
    ``mapping`` is a mapping file's content."""
    body = MigrationCreate(
        source=source, mapping=SourceMapping.model_validate(dict(mapping)), restart=restart
    )
    return post("/data/migrations", MigrationAccepted, body)


def verify_migration(source: str, mapping: Mapping[str, Any]) -> Call[MigrationAccepted]:
    """Compare a mapping's migrated range on both sides as a job (``migration_verify``)."""
    body = VerifyCreate(source=source, mapping=SourceMapping.model_validate(dict(mapping)))
    return post("/data/migrations/verify", MigrationAccepted, body)


def migrations(
    *, mapping: str | None = None, limit: int = 50, offset: int = 0
) -> Call[Page[MigrationRun]]:
    """Migration runs, newest first."""
    return get("/data/migrations", Page[MigrationRun], mapping=mapping, limit=limit, offset=offset)


def migration(migration_id: str) -> Call[MigrationRun]:
    return get(path("data", "migrations", migration_id), MigrationRun)


def migration_rejects(
    migration_id: str, *, limit: int = 50, offset: int = 0
) -> Call[Page[Rejection]]:
    """A run's rejected rows: source row number, field, value, reason."""
    return get(
        path("data", "migrations", migration_id, "rejects"),
        Page[Rejection],
        limit=limit,
        offset=offset,
    )
