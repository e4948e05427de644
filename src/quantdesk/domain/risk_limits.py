"""The portfolio's standing risk limits as the desk keeps them: versioned, never edited.

A version is what a person set, when and why. Version 0 is the desk before anyone set
limits: no limit at all. These are the limits live and paper sessions trade under; a backtest
states its own (``BacktestRequest.risk.limits``), so a research run never changes with the
desk's settings and its fingerprint says what it ran with.
"""

import hashlib

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from quantdesk.domain.risk import RiskLimits
from quantdesk.domain.strategies.canonical import canonical_json
from quantdesk.domain.text import ACTOR_MAX_LENGTH, REASON_MAX_LENGTH

NO_LIMITS_ACTOR = "quantdesk"


class RiskLimitVersion(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = Field(ge=0, description="1, 2, 3, ...; 0: never set (no limits)")
    limits: RiskLimits
    actor: str = Field(max_length=ACTOR_MAX_LENGTH)
    reason: str = Field(max_length=REASON_MAX_LENGTH)
    set_at_ns: int = Field(ge=0, description="when, ns UTC (0 for version 0)")
    limits_hash: str = Field(description="sha256 of the limits' canonical JSON")
    correlation_id: str | None = None


def limits_document(limits: RiskLimits) -> dict[str, JsonValue]:
    """The limits as JSON with one spelling (instruments sorted): what is stored and hashed."""
    document: dict[str, JsonValue] = limits.model_dump(mode="json")
    allowed = document.get("allowed_instruments")
    if isinstance(allowed, list):
        ordered: list[JsonValue] = [str(item) for item in sorted(map(str, allowed))]
        document["allowed_instruments"] = ordered
    return document


def limits_hash(limits: RiskLimits) -> str:
    return hashlib.sha256(canonical_json(limits_document(limits)).encode()).hexdigest()


def no_limits() -> RiskLimitVersion:
    """Version 0: the desk before anyone set its limits."""
    empty = RiskLimits()
    return RiskLimitVersion(
        version=0,
        limits=empty,
        actor=NO_LIMITS_ACTOR,
        reason="no limits have been set",
        set_at_ns=0,
        limits_hash=limits_hash(empty),
    )
