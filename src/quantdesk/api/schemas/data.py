"""What ``/data`` answers: instruments, the catalog's series and lineage, ingest uploads."""

from pydantic import BaseModel, ConfigDict, Field

from quantdesk.api.schemas.jobs import JobOut


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class UploadAccepted(_Model):
    """An uploaded file, stored under a name of the service's own, and the job ingesting it:
    follow it at ``/jobs/{job_id}``; its result is the ingest's summary."""

    job: JobOut
    bytes: int = Field(ge=0)
    sha256: str
