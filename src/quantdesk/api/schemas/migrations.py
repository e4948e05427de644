"""What ``/data/migrations`` takes and answers: a migration or a verify submitted as a job,
naming a configured source (never a URL: the service holds the credentials)."""

from pydantic import BaseModel, ConfigDict, Field

from quantdesk.api.schemas.jobs import JobOut
from quantdesk.domain.source_mapping import SourceMapping

SOURCE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MigrationCreate(_Body):
    """Migrate the rows of ``mapping``'s table from the source configuration names."""

    source: str = Field(pattern=SOURCE_PATTERN, description="a configured source's name")
    mapping: SourceMapping = Field(description="a mapping file's content")
    restart: bool = Field(default=False, description="forget the watermark: from the first row")


class VerifyCreate(_Body):
    """Compare the mapping's migrated range on both sides, per instrument and UTC day."""

    source: str = Field(pattern=SOURCE_PATTERN, description="a configured source's name")
    mapping: SourceMapping


class MigrationAccepted(_Body):
    """The job doing it (kind ``migration`` or ``migration_verify``): follow it at ``job``;
    a migration's result is its run, a verify's its report."""

    mapping: str
    job: JobOut


class SourcesOut(_Body):
    sources: list[str] = Field(description="the names a request may give (URLs stay here)")
