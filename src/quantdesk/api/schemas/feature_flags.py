"""What ``/feature-flags`` takes and answers: a flag's versions, a change, a decision."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from quantdesk.domain.auth import Role
from quantdesk.domain.feature_flags import (
    DESCRIPTION_MAX_CHARS,
    ENVIRONMENT_PATTERN,
    ENVIRONMENTS_MAX,
    FeatureFlag,
    FlagDecision,
    FlagOutcome,
    FlagUpdate,
)
from quantdesk.domain.text import REASON_MAX_LENGTH


class FeatureFlagOut(BaseModel):
    """One version of a flag (the current one, or one of its history)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    version: int = Field(description="1, 2, 3, ...; 0: the built-in default of a seeded flag")
    enabled: bool
    rollout_percent: int = Field(ge=0, le=100)
    allowed_roles: list[Role] = Field(description="empty: every role")
    environments: list[str] = Field(description="empty: every environment")
    description: str
    updated_by: str
    updated_at_ns: int
    reason: str
    reverted_from: int | None = Field(description="the version a revert restored")
    correlation_id: str | None

    @classmethod
    def of(cls, flag: FeatureFlag) -> "FeatureFlagOut":
        return cls(
            name=flag.name,
            version=flag.version,
            enabled=flag.enabled,
            rollout_percent=flag.rollout_percent,
            allowed_roles=list(flag.allowed_roles),
            environments=list(flag.environments),
            description=flag.description,
            updated_by=flag.updated_by,
            updated_at_ns=flag.updated_at_ns,
            reason=flag.reason,
            reverted_from=flag.reverted_from,
            correlation_id=flag.correlation_id,
        )


class FeatureFlagSet(BaseModel):
    """A change: the fields given replace the flag's current ones (a new flag when the name
    is new); ``expected_version`` refuses a lost update (409 ``flag_changed``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool | None = None
    rollout_percent: int | None = Field(default=None, ge=0, le=100)
    allowed_roles: list[Role] | None = Field(default=None, max_length=len(Role))
    environments: list[Annotated[str, Field(pattern=ENVIRONMENT_PATTERN)]] | None = Field(
        default=None, max_length=ENVIRONMENTS_MAX
    )
    description: str | None = Field(default=None, max_length=DESCRIPTION_MAX_CHARS)
    reason: str = Field(default="", max_length=REASON_MAX_LENGTH)
    expected_version: int | None = Field(default=None, ge=0, le=2**31 - 1)

    def update(self) -> FlagUpdate:
        return FlagUpdate(
            enabled=self.enabled,
            rollout_percent=self.rollout_percent,
            allowed_roles=None if self.allowed_roles is None else tuple(self.allowed_roles),
            environments=None if self.environments is None else tuple(self.environments),
            description=self.description,
            reason=self.reason,
        )


class FeatureFlagRevert(BaseModel):
    """Restore the settings of an earlier version, as a new version."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = Field(ge=0, le=2**31 - 1, description="0: a seeded flag's default")
    reason: str = Field(default="", max_length=REASON_MAX_LENGTH)


class FeatureFlagDecision(BaseModel):
    """Whether a flag is on for one user and role in this deployment, and why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    flag: str
    user_id: str
    role: Role
    environment: str
    on: bool
    outcome: FlagOutcome = Field(description="on, or why not: disabled, environment, role, rollout")
    bucket: int = Field(ge=0, le=99, description="the user's rollout bucket for this flag")

    @classmethod
    def of(
        cls, decision: FlagDecision, *, user_id: str, role: Role, environment: str
    ) -> "FeatureFlagDecision":
        return cls(
            flag=decision.flag,
            user_id=user_id,
            role=role,
            environment=environment,
            on=decision.on,
            outcome=decision.outcome,
            bucket=decision.bucket,
        )
