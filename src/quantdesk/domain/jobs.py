"""Jobs: long work (backtests, ingests, validations) run off the request path, with a stored
state from submission on.

A job moves ``pending -> running -> completed | failed | cancelled`` (a pending job may also
be cancelled or failed before it starts); a finished job never changes again.
"""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from quantdesk.domain.errors import InvalidInputError, JobStateError

MESSAGE_MAX_LENGTH = 500
"""The current step's text (``String(500)``)."""
ERROR_MAX_LENGTH = 2000
"""Why a job failed, cut to this length (a worker's reason must not flood the row)."""
PAYLOAD_MAX_BYTES = 64 * 1024
RESULT_MAX_BYTES = 256 * 1024
_JOB_ID = re.compile(r"[0-9a-f]{32}")


class JobKind(StrEnum):
    BACKTEST = "backtest"
    INGEST_BARS = "ingest_bars"
    INGEST_SIGNALS = "ingest_signals"
    VALIDATION = "validation"
    VALIDATION_RUN = "validation_run"  # the promotion gate's validation, not the compatibility
    OPTIMISATION = "optimisation"  # a stored parameter study (``optimize``)
    MIGRATION = "migration"  # a PostgreSQL table into the catalog (``data migrate``)
    MIGRATION_VERIFY = "migration_verify"  # both sides compared (``data verify``)


class JobState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in FINISHED


FINISHED = frozenset({JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED})
UNFINISHED = frozenset({JobState.PENDING, JobState.RUNNING})
_NEXT: dict[JobState, frozenset[JobState]] = {
    JobState.PENDING: frozenset({JobState.RUNNING, JobState.FAILED, JobState.CANCELLED}),
    JobState.RUNNING: FINISHED,
}


def check_transition(job_id: str, current: JobState, target: JobState) -> None:
    """A finished job stays as it ended; a pending one never completes without running."""
    if target not in _NEXT.get(current, frozenset()):
        raise JobStateError(
            f"job {job_id} is {current.value}: it cannot become {target.value}",
            code="job_state",
            data={"job_id": job_id, "state": current.value, "target": target.value},
        )


def is_job_id(text: str) -> bool:
    return _JOB_ID.fullmatch(text) is not None


class JobRecord(BaseModel):
    """One job as stored: what runs, who asked, where it stands and how it ended."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    job_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    kind: JobKind
    state: JobState
    payload: dict[str, JsonValue]
    subject: str | None = Field(default=None, max_length=200, description="e.g. the run id")
    submitted_by: str = Field(min_length=1, max_length=200)
    correlation_id: str | None = Field(default=None, max_length=64)
    created_ns: int = Field(ge=0)
    started_ns: int | None = Field(default=None, ge=0)
    finished_ns: int | None = Field(default=None, ge=0)
    progress: float = Field(default=0.0, ge=0.0, le=100.0)
    eta_seconds: float | None = Field(default=None, ge=0.0)
    message: str | None = Field(default=None, max_length=MESSAGE_MAX_LENGTH)
    result: dict[str, JsonValue] | None = None
    error: str | None = Field(default=None, max_length=ERROR_MAX_LENGTH)
    error_code: str | None = Field(default=None, max_length=64)

    @property
    def finished(self) -> bool:
        return self.state.finished

    @property
    def seconds(self) -> float | None:
        """Wall time from start to end (None until both are known)."""
        if self.started_ns is None or self.finished_ns is None:
            return None
        return max(self.finished_ns - self.started_ns, 0) / 1e9


class JobFilter(BaseModel):
    """What a job list is narrowed to; every field optional (all of them: every job)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: JobKind | None = None
    state: JobState | None = None
    submitted_by: str | None = Field(default=None, max_length=200)
    subject: str | None = Field(default=None, max_length=200)

    def matches(self, job: JobRecord) -> bool:
        return (
            (self.kind is None or job.kind == self.kind)
            and (self.state is None or job.state == self.state)
            and (self.submitted_by is None or job.submitted_by == self.submitted_by)
            and (self.subject is None or job.subject == self.subject)
        )


@dataclass(frozen=True)
class JobStats:
    """Counts by (kind, state); finished jobs and their wall seconds by kind (for metrics)."""

    counts: Mapping[tuple[JobKind, JobState], int] = field(default_factory=dict)
    finished: Mapping[JobKind, int] = field(default_factory=dict)
    finished_seconds: Mapping[JobKind, float] = field(default_factory=dict)


@dataclass(frozen=True)
class JobProgress:
    """Where a running job stands: percent done, the estimated seconds left, the current step."""

    percent: float
    eta_seconds: float | None = None
    message: str | None = None


@dataclass(frozen=True)
class JobOutcome:
    """How a job ended: completed with a result, or failed / cancelled with the reason."""

    state: JobState
    result: Mapping[str, JsonValue] | None = None
    error: str | None = None
    error_code: str | None = None


def clipped(text: str | None, limit: int) -> str | None:
    """``text`` cut to ``limit`` characters (an ellipsis marks the cut)."""
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1] + "\u2026"


def bounded_json(value: Mapping[str, JsonValue], limit: int, what: str) -> dict[str, JsonValue]:
    """A JSON object no larger than ``limit`` bytes encoded (a payload, a result)."""
    try:
        encoded = json.dumps(value, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as error:
        raise InvalidInputError(f"the job's {what} is not JSON: {error}") from None
    if len(encoded.encode()) > limit:
        raise InvalidInputError(
            f"the job's {what} is {len(encoded.encode())} bytes; at most {limit}",
            code="job_too_large",
            data={"limit": limit},
        )
    decoded: dict[str, JsonValue] = json.loads(encoded)
    return decoded
