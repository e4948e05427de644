"""What ``/risk`` takes and answers: the portfolio's limits, kill switches, risk events."""

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from quantdesk.domain.risk import KillSwitch, KillSwitchScope, RiskEvent, RiskLimits
from quantdesk.domain.text import LABEL_MAX_LENGTH, REASON_MAX_LENGTH, free_text

Reason = Annotated[
    str, Field(min_length=1, max_length=REASON_MAX_LENGTH), AfterValidator(free_text)
]
Target = Annotated[
    str, Field(max_length=LABEL_MAX_LENGTH, description="strategy or instrument id; '' for all")
]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RiskLimitsSet(_Model):
    """New portfolio limits (a new version); ``expected_version``: the version you read, so
    a change made meanwhile is refused (409) instead of overwritten."""

    limits: RiskLimits
    reason: Reason
    expected_version: int | None = Field(default=None, ge=0, le=2**31 - 1)


class KillSwitchThrow(_Model):
    scope: KillSwitchScope = KillSwitchScope.PORTFOLIO
    target: Target = ""
    reason: Reason


class KillSwitchRelease(_Model):
    scope: KillSwitchScope = KillSwitchScope.PORTFOLIO
    target: Target = ""


class KillSwitchStatus(_Model):
    """Every thrown switch, oldest first; ``portfolio_halted``: all trading stops."""

    thrown: list[KillSwitch]
    portfolio_halted: bool


class RiskEventOut(_Model):
    """A risk decision of a run (deny, reduce, halt...) or a change on the desk (a kill
    switch thrown or released, limits set), in one shape."""

    source: Literal["run", "desk"]
    run_id: str | None = None
    ts_ns: int
    kind: str
    scope: str
    strategy_id: str = ""
    instrument_id: str = ""
    rule: str = ""
    detail: str = ""
    requested: str = ""
    approved: str = ""
    premium_at_risk: str = Field(
        default="", description="options' premium at risk (account base currency); '' if none"
    )
    actor: str | None = None

    @classmethod
    def of_run(cls, run_id: str, event: RiskEvent) -> "RiskEventOut":
        return cls(
            source="run",
            run_id=run_id,
            ts_ns=event.ts_ns,
            kind=event.kind.value,
            scope=event.scope,
            strategy_id=event.strategy_id,
            instrument_id=event.instrument_id,
            rule=event.rule,
            detail=event.detail,
            requested=event.requested,
            approved=event.approved,
            premium_at_risk=event.premium_at_risk,
        )
