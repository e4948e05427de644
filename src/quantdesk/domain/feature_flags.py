"""Feature flags: what turns a feature on for whom, and the pure rule that decides it.

A flag is on for a caller when it is enabled, the deployment's environment is one it allows
(none listed: all), the caller's role is one it allows (none listed: all), and the caller's
rollout bucket falls under its percentage. The bucket is a hash of the user id and the flag
name, so one user gets one answer for a flag on every request and in every process, and
different flags roll out to different users.

Every change is a new version; version 0 is a seeded flag's built-in default (never stored).
"""

import hashlib
import re
from enum import StrEnum
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from quantdesk.domain.auth import Role
from quantdesk.domain.errors import ConflictError, InvalidInputError
from quantdesk.domain.text import ACTOR_MAX_LENGTH, REASON_MAX_LENGTH, free_text

FLAG_NAME_PATTERN: Final = r"^[a-z][a-z0-9_]{0,62}$"
ENVIRONMENT_PATTERN: Final = r"^[a-z][a-z0-9_-]{0,31}$"
DESCRIPTION_MAX_CHARS: Final = 500
ENVIRONMENTS_MAX: Final = 16
SEED_ACTOR: Final = "quantdesk"
_NAME = re.compile(FLAG_NAME_PATTERN)


class FlagSettings(BaseModel):
    """What a flag says, as one version holds it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = False
    rollout_percent: int = Field(
        default=100, ge=0, le=100, description="share of users (by hashed id) it is on for"
    )
    allowed_roles: tuple[Role, ...] = Field(
        default=(), description="roles it is on for; empty: every role"
    )
    environments: tuple[str, ...] = Field(
        default=(),
        max_length=ENVIRONMENTS_MAX,
        description="deployment environments it is on in; empty: every environment",
    )
    description: str = Field(default="", max_length=DESCRIPTION_MAX_CHARS)

    @field_validator("allowed_roles")
    @classmethod
    def _roles(cls, roles: tuple[Role, ...]) -> tuple[Role, ...]:
        return tuple(sorted(set(roles), key=list(Role).index))

    @field_validator("environments")
    @classmethod
    def _environments(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        for name in names:
            if re.fullmatch(ENVIRONMENT_PATTERN, name) is None:
                raise ValueError(
                    "an environment is 1-32 characters: a lowercase letter, then lowercase "
                    "letters, digits, '_' or '-'"
                )
        return tuple(sorted(set(names)))

    @field_validator("description")
    @classmethod
    def _description(cls, text: str) -> str:
        return free_text(text)


class FlagUpdate(BaseModel):
    """A change to a flag: the fields given replace the current ones, the rest stay."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool | None = None
    rollout_percent: int | None = Field(default=None, ge=0, le=100)
    allowed_roles: tuple[Role, ...] | None = None
    environments: tuple[str, ...] | None = Field(default=None, max_length=ENVIRONMENTS_MAX)
    description: str | None = Field(default=None, max_length=DESCRIPTION_MAX_CHARS)
    reason: str = Field(default="", max_length=REASON_MAX_LENGTH)

    def applied_to(self, current: FlagSettings) -> FlagSettings:
        """The settings after this change; InvalidInputError (naming the fields, never their
        values) when they break a rule."""
        changes = self.model_dump(exclude_none=True, exclude={"reason"})
        try:
            return FlagSettings.model_validate({**current.model_dump(), **changes})
        except ValidationError as error:
            fields = sorted({str(e["loc"][0]) for e in error.errors() if e["loc"]})
            raise InvalidInputError(
                f"the flag's {', '.join(fields) or 'settings'} break a rule: "
                + "; ".join(e["msg"] for e in error.errors()[:3]),
                code="invalid_flag",
                data={"fields": ",".join(fields)},
            ) from None


class FeatureFlag(FlagSettings):
    """One version of a flag: its settings, who set them, when and why."""

    name: str = Field(pattern=FLAG_NAME_PATTERN)
    version: int = Field(ge=0, description="1, 2, 3, ... per flag; 0: the built-in default")
    updated_by: str = Field(max_length=ACTOR_MAX_LENGTH)
    updated_at_ns: int = Field(ge=0)
    reason: str = Field(default="", max_length=REASON_MAX_LENGTH)
    reverted_from: int | None = Field(
        default=None, description="the earlier version this one restored, if a revert"
    )
    correlation_id: str | None = None

    def settings(self) -> FlagSettings:
        return FlagSettings.model_validate(self.model_dump(include=set(FlagSettings.model_fields)))


class FlagOutcome(StrEnum):
    """Why a flag is on or off for one caller."""

    on = "on"
    disabled = "disabled"
    environment = "environment"
    role = "role"
    rollout = "rollout"


class FlagDecision(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    flag: str
    on: bool
    outcome: FlagOutcome
    bucket: int = Field(ge=0, le=99, description="the user's rollout bucket for this flag")


SEEDED: Final[dict[str, FlagSettings]] = {
    "live_trading": FlagSettings(
        enabled=False, description="start and control paper/live trading sessions"
    ),
    "signals_http_ingest": FlagSettings(
        enabled=True, description="ingest AI signals over HTTP (POST /signals, /signals/batch)"
    ),
    "strategy_export": FlagSettings(
        enabled=True, description="export a registered strategy as Python source"
    ),
}
"""The flags every desk has from the start (version 0 until someone changes them)."""


def checked_flag_name(name: str) -> str:
    if _NAME.fullmatch(name) is None:
        raise InvalidInputError(
            "a flag name is 1-63 characters: a lowercase letter, then lowercase letters, "
            "digits or '_'",
            code="invalid_flag_name",
        )
    return name


def rollout_bucket(user_id: str, flag: str) -> int:
    """0..99 from sha256(user_id + ":" + flag): the same user, the same bucket, everywhere."""
    digest = hashlib.sha256(f"{user_id}:{flag}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100


def decide(flag: FeatureFlag, *, user_id: str, role: Role, environment: str) -> FlagDecision:
    """Whether ``flag`` is on for this user, role and environment, and why."""
    bucket = rollout_bucket(user_id, flag.name)
    if not flag.enabled:
        outcome = FlagOutcome.disabled
    elif flag.environments and environment not in flag.environments:
        outcome = FlagOutcome.environment
    elif flag.allowed_roles and role not in flag.allowed_roles:
        outcome = FlagOutcome.role
    elif bucket >= flag.rollout_percent:
        outcome = FlagOutcome.rollout
    else:
        outcome = FlagOutcome.on
    return FlagDecision(
        flag=flag.name, on=outcome is FlagOutcome.on, outcome=outcome, bucket=bucket
    )


def seeded_default(name: str) -> FeatureFlag | None:
    """Version 0 of a seeded flag; None for any other name."""
    settings = SEEDED.get(name)
    if settings is None:
        return None
    return FeatureFlag(
        **settings.model_dump(),
        name=name,
        version=0,
        updated_by=SEED_ACTOR,
        updated_at_ns=0,
        reason="built-in default",
    )


def flag_changed(name: str, seen: int, expected: int) -> ConflictError:
    """A lost update refused: the flag moved on since the caller read version ``expected``."""
    return ConflictError(
        f"feature flag {name} is at version {seen}, not {expected}: someone changed it since "
        "it was read",
        code="flag_changed",
        data={"flag": name, "current_version": seen, "expected_version": expected},
    )
