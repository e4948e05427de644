"""What ``/jobs`` answers: a job of any kind (backtest, ingest, validation) and its state."""

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from quantdesk.domain.jobs import JobKind, JobRecord, JobState


class JobOut(BaseModel):
    """A job as clients see it: state, progress 0-100, ETA and, once finished, its outcome."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    job_id: str
    kind: JobKind
    state: JobState
    subject: str | None = Field(description="what the job works on, e.g. the run id")
    payload: dict[str, JsonValue]
    submitted_by: str
    correlation_id: str | None
    created_ns: int
    started_ns: int | None
    finished_ns: int | None
    progress: float = Field(ge=0, le=100)
    eta_seconds: float | None
    message: str | None = Field(description="the step it is on")
    result: dict[str, JsonValue] | None
    error: str | None
    error_code: str | None

    @classmethod
    def of(cls, job: JobRecord) -> "JobOut":
        return cls(
            job_id=job.job_id,
            kind=job.kind,
            state=job.state,
            subject=job.subject,
            payload=dict(job.payload),
            submitted_by=job.submitted_by,
            correlation_id=job.correlation_id,
            created_ns=job.created_ns,
            started_ns=job.started_ns,
            finished_ns=job.finished_ns,
            progress=job.progress,
            eta_seconds=job.eta_seconds,
            message=job.message,
            result=None if job.result is None else dict(job.result),
            error=job.error,
            error_code=job.error_code,
        )
