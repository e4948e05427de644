"""A backtest run's record: its id and state from submission on, whoever ran it and how it ended.

The record is what lists and follows a run (the service's ``GET /backtest``, the CLI's
``runs list``); the result and its artifacts are stored beside it once the run completes. A
failed run keeps its error and code, so a refusal in a worker is as visible as a success.
"""

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from quantdesk.domain.backtest_checks import STRATEGIES_MAX
from quantdesk.domain.text import ACTOR_MAX_LENGTH, LABEL_MAX_LENGTH, REASON_MAX_LENGTH

RUN_ID_MAX_LENGTH = 64
ERROR_MAX_LENGTH = REASON_MAX_LENGTH
ERROR_CODE_MAX_LENGTH = 60
JOB_ID_MAX_LENGTH = 64
CORRELATION_ID_MAX_LENGTH = 64
STRATEGY_REF_MAX_LENGTH = 120
RUN_STRATEGIES_MAX = STRATEGIES_MAX  # as many as a request may name


class RunState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in FINISHED


FINISHED = frozenset({RunState.COMPLETED, RunState.FAILED, RunState.CANCELLED})
STOPPED = frozenset({RunState.FAILED, RunState.CANCELLED})
"""The states ``mark_stopped`` may set: a run that was stopped from outside never completed."""


class RunSummary(BaseModel):
    """The headline figures of a completed run, enough to list and sort runs by."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    total_return: float
    sharpe: float | None
    max_drawdown: float
    trade_count: int = Field(ge=0)


class RunRecord(BaseModel):
    """One run from submission on; ``strategies`` are the pinned references (``id@version``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    run_id: str = Field(min_length=1, max_length=RUN_ID_MAX_LENGTH)
    state: RunState
    label: str = Field(default="", max_length=LABEL_MAX_LENGTH)
    strategies: tuple[str, ...] = Field(max_length=RUN_STRATEGIES_MAX)
    submitted_by: str = Field(min_length=1, max_length=ACTOR_MAX_LENGTH)
    correlation_id: str | None = Field(default=None, max_length=CORRELATION_ID_MAX_LENGTH)
    job_id: str | None = Field(default=None, max_length=JOB_ID_MAX_LENGTH)
    created_ns: int = Field(ge=0)
    started_ns: int | None = Field(default=None, ge=0)
    finished_ns: int | None = Field(default=None, ge=0)
    error: str | None = Field(default=None, max_length=ERROR_MAX_LENGTH)
    error_code: str | None = Field(default=None, max_length=ERROR_CODE_MAX_LENGTH)
    fingerprint: str | None = Field(default=None, max_length=64)
    summary: RunSummary | None = None


class RunFilter(BaseModel):
    """Which runs to list; every field narrows (None: any). Times bound ``created_ns``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    state: RunState | None = None
    label: str | None = Field(default=None, max_length=LABEL_MAX_LENGTH)
    strategy: str | None = Field(
        default=None, max_length=STRATEGY_REF_MAX_LENGTH, description="strategy id prefix"
    )
    submitted_by: str | None = Field(default=None, max_length=ACTOR_MAX_LENGTH)
    since_ns: int | None = Field(default=None, ge=0)
    until_ns: int | None = Field(default=None, ge=0)

    def matches(self, record: RunRecord) -> bool:
        """The filter as a predicate: what every index answers (the SQL one in its query)."""
        return (
            (self.state is None or record.state is self.state)
            and (self.label is None or record.label == self.label)
            and (
                self.strategy is None or any(s.startswith(self.strategy) for s in record.strategies)
            )
            and (self.submitted_by is None or record.submitted_by == self.submitted_by)
            and (self.since_ns is None or record.created_ns >= self.since_ns)
            and (self.until_ns is None or record.created_ns <= self.until_ns)
        )


def clipped_error(message: str) -> str:
    """An error as a record keeps it: printable (a NUL or a lone surrogate cannot be stored)
    and at most ``ERROR_MAX_LENGTH`` characters."""
    text = "".join(c if c.isprintable() or c in "\n\t" else "\ufffd" for c in message)
    if len(text) <= ERROR_MAX_LENGTH:
        return text
    return text[: ERROR_MAX_LENGTH - 1] + "…"
