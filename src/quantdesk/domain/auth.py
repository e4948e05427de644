"""Who may do what: roles, permissions, the one table between them, and the records of users
and API keys.

The roles are ordered (viewer < researcher < trader < admin) and each one's permissions
contain the ones below it, so "at least a trader" and "allowed to throw the kill switch" can
never disagree. Nothing here holds a secret: records carry no password, hash or token.
"""

import hashlib
import re
import secrets
from enum import StrEnum
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from quantdesk.domain.errors import InvalidInputError

USERNAME_PATTERN: Final = r"^[a-z][a-z0-9_.-]{0,63}$"
KEY_NAME_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9 _.:-]{0,63}$"
PASSWORD_MIN_CHARS: Final = 12
PASSWORD_MAX_CHARS: Final = 256
API_KEY_PREFIX: Final = "qdk_"
MAX_KEY_DAYS: Final = 3650

_USERNAME = re.compile(USERNAME_PATTERN)


class Role(StrEnum):
    """In ascending order of power: each role may do everything the one before it may."""

    viewer = "viewer"
    researcher = "researcher"
    trader = "trader"
    admin = "admin"


ROLE_ORDER: Final[tuple[Role, ...]] = (Role.viewer, Role.researcher, Role.trader, Role.admin)


class Permission(StrEnum):
    read = "read"
    strategies_write = "strategies_write"
    backtests_run = "backtests_run"
    data_write = "data_write"
    signals_ingest = "signals_ingest"
    validations_run = "validations_run"
    jobs_cancel = "jobs_cancel"
    risk_control = "risk_control"
    live_control = "live_control"
    flags_manage = "flags_manage"
    users_manage = "users_manage"
    promotion_manage = "promotion_manage"  # validation policies and gate overrides (admin)


_VIEWER: Final = frozenset({Permission.read})
_RESEARCHER: Final = _VIEWER | {
    Permission.strategies_write,
    Permission.backtests_run,
    Permission.data_write,
    Permission.signals_ingest,
    Permission.validations_run,
    Permission.jobs_cancel,
}
_TRADER: Final = _RESEARCHER | {Permission.risk_control, Permission.live_control}

ROLE_PERMISSIONS: Final[dict[Role, frozenset[Permission]]] = {
    Role.viewer: _VIEWER,
    Role.researcher: frozenset(_RESEARCHER),
    Role.trader: frozenset(_TRADER),
    Role.admin: frozenset(Permission),
}


def allows(role: Role, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[role]


def role_rank(role: Role) -> int:
    """Position in ROLE_ORDER: a key may be scoped to its creator's rank or below only."""
    return ROLE_ORDER.index(role)


def is_username(text: str) -> bool:
    return _USERNAME.fullmatch(text) is not None


class Principal(BaseModel):
    """The caller of one request, as its credential proved it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user_id: str
    username: str
    role: Role
    via: Literal["token", "api_key"]
    key_id: str | None = None

    def allows(self, permission: Permission) -> bool:
        return allows(self.role, permission)


class TokenPair(BaseModel):
    """What a login or a refresh hands out; the refresh token is spent by its next use."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(ge=1, description="seconds until the access token expires")


class UserRecord(BaseModel):
    """A user as stored, without its password hash (that stays inside the user store)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user_id: str
    username: str = Field(pattern=USERNAME_PATTERN)
    role: Role
    disabled: bool = False
    created_ns: int = Field(ge=0)
    updated_ns: int = Field(ge=0)
    created_by: str


class ApiKeyRecord(BaseModel):
    """An API key as stored and listed: never its secret (shown once at creation)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key_id: str
    name: str = Field(pattern=KEY_NAME_PATTERN)
    role: Role
    user_id: str = Field(description="the user the key acts for (its creator)")
    created_by: str
    created_ns: int = Field(ge=0)
    expires_ns: int | None = None
    revoked_ns: int | None = None
    last_used_ns: int | None = None

    def usable_at(self, now_ns: int) -> bool:
        if self.revoked_ns is not None:
            return False
        return self.expires_ns is None or now_ns < self.expires_ns


class RefreshTokenRecord(BaseModel):
    """One refresh token of a login's family, kept by the hash of its value.

    Each refresh spends the token and issues the next in the same family; presenting a spent
    one again means it leaked, so the whole family is revoked."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    token_hash: str
    family_id: str
    user_id: str
    issued_ns: int = Field(ge=0)
    expires_ns: int = Field(ge=0)
    spent_ns: int | None = None
    revoked_ns: int | None = None


ADMIN_USERNAME: Final = "admin"


def checked_username(username: str) -> str:
    if not is_username(username):
        raise InvalidInputError(
            "a username is 1-64 characters: a lowercase letter, then lowercase letters, "
            "digits, '_', '.' or '-'",
            code="invalid_username",
        )
    return username


def checked_password(password: str, username: str) -> str:
    """A chosen password: long enough to resist guessing, short enough to hash cheaply."""
    if not PASSWORD_MIN_CHARS <= len(password) <= PASSWORD_MAX_CHARS:
        raise InvalidInputError(
            f"a password has {PASSWORD_MIN_CHARS}-{PASSWORD_MAX_CHARS} characters",
            code="invalid_password",
            data={"min_chars": PASSWORD_MIN_CHARS, "max_chars": PASSWORD_MAX_CHARS},
        )
    if password.lower() == username.lower():
        raise InvalidInputError("a password may not be the username", code="invalid_password")
    return password


def checked_key_name(name: str) -> str:
    if re.fullmatch(KEY_NAME_PATTERN, name) is None:
        raise InvalidInputError(
            "an API key name is 1-64 letters, digits, spaces or '_.:-', starting with a letter "
            "or digit",
            code="invalid_key_name",
        )
    return name


def generated_password() -> str:
    """24 URL-safe characters (144 random bits): shown once, never stored in clear."""
    return secrets.token_urlsafe(18)


def limit_key(kind: str, value: str) -> str:
    """The failed-login counter's key for a username or an address: a digest, so a password
    typed into the username field is never stored."""
    digest = hashlib.sha256(value[:256].lower().encode()).hexdigest()
    return f"{kind}:{digest}"
