"""What the service tells its clients as it happens: numbered events of a few kinds.

A client that reconnects names the last ``seq`` it saw and gets what it missed, so the
numbers are one gap-free sequence per service (every server process agrees on it).
"""

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, JsonValue


class EventType(StrEnum):
    backtest_progress = "backtest_progress"
    job_update = "job_update"
    strategy_update = "strategy_update"
    live_trading_update = "live_trading_update"
    signal = "signal"
    risk_alert = "risk_alert"


class ServiceEvent(BaseModel):
    """One event as every client sees it; ``seq`` orders it among all events of the service."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seq: int = Field(ge=1, description="1, 2, 3, ... one sequence for the whole service")
    type: EventType
    at_ns: int = Field(ge=0, description="when it was published, ns since the epoch (UTC)")
    subject: str | None = Field(default=None, description="what it is about: a job, run, ...")
    payload: dict[str, JsonValue] = Field(default_factory=dict)
    correlation_id: str | None = Field(
        default=None, description="the request or job that caused it"
    )
