"""What ``/auth``, ``/users`` and ``/api-keys`` take and answer. No answer carries a password
or a hash; a new API key's secret is in its creation answer only."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from quantdesk.domain.auth import (
    KEY_NAME_PATTERN,
    MAX_KEY_DAYS,
    PASSWORD_MAX_CHARS,
    PASSWORD_MIN_CHARS,
    USERNAME_PATTERN,
    ApiKeyRecord,
    Principal,
    Role,
    TokenPair,
    UserRecord,
)

_FORBID = ConfigDict(frozen=True, extra="forbid")
Password = Annotated[str, Field(min_length=PASSWORD_MIN_CHARS, max_length=PASSWORD_MAX_CHARS)]


class LoginIn(BaseModel):
    model_config = _FORBID

    username: str = Field(min_length=1, max_length=256)
    password: str = Field(min_length=1, max_length=1024, json_schema_extra={"format": "password"})


class RefreshIn(BaseModel):
    model_config = _FORBID

    refresh_token: str = Field(min_length=1, max_length=512)


class TokenPairOut(BaseModel):
    model_config = _FORBID

    access_token: str
    refresh_token: str = Field(description="spent by its next use: keep the one answered then")
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds until the access token expires")

    @classmethod
    def of(cls, pair: TokenPair) -> "TokenPairOut":
        return cls(
            access_token=pair.access_token,
            refresh_token=pair.refresh_token,
            token_type=pair.token_type,
            expires_in=pair.expires_in,
        )


class PrincipalOut(BaseModel):
    model_config = _FORBID

    user_id: str
    username: str
    role: Role
    via: Literal["token", "api_key"]
    key_id: str | None = None

    @classmethod
    def of(cls, principal: Principal) -> "PrincipalOut":
        return cls(
            user_id=principal.user_id,
            username=principal.username,
            role=principal.role,
            via=principal.via,
            key_id=principal.key_id,
        )


class UserOut(BaseModel):
    model_config = _FORBID

    user_id: str
    username: str
    role: Role
    disabled: bool
    created_ns: int
    updated_ns: int
    created_by: str

    @classmethod
    def of(cls, user: UserRecord) -> "UserOut":
        return cls(
            user_id=user.user_id,
            username=user.username,
            role=user.role,
            disabled=user.disabled,
            created_ns=user.created_ns,
            updated_ns=user.updated_ns,
            created_by=user.created_by,
        )


class UserIn(BaseModel):
    model_config = _FORBID

    username: str = Field(pattern=USERNAME_PATTERN, max_length=64)
    password: Password
    role: Role = Role.viewer


class RoleIn(BaseModel):
    model_config = _FORBID

    role: Role


class PasswordIn(BaseModel):
    model_config = _FORBID

    password: Password


class ApiKeyOut(BaseModel):
    model_config = _FORBID

    key_id: str
    name: str
    role: Role
    user_id: str = Field(description="the user the key acts for")
    created_by: str
    created_ns: int
    expires_ns: int | None
    revoked_ns: int | None
    last_used_ns: int | None

    @classmethod
    def of(cls, key: ApiKeyRecord) -> "ApiKeyOut":
        return cls(
            key_id=key.key_id,
            name=key.name,
            role=key.role,
            user_id=key.user_id,
            created_by=key.created_by,
            created_ns=key.created_ns,
            expires_ns=key.expires_ns,
            revoked_ns=key.revoked_ns,
            last_used_ns=key.last_used_ns,
        )


class ApiKeyIn(BaseModel):
    model_config = _FORBID

    name: str = Field(pattern=KEY_NAME_PATTERN, max_length=64)
    role: Role = Role.viewer
    expires_days: int | None = Field(default=None, ge=1, le=MAX_KEY_DAYS)


class ApiKeyCreatedOut(BaseModel):
    """The new key's record and the key itself (``qdk_...``): shown in this answer only."""

    model_config = _FORBID

    key: ApiKeyOut
    secret: str = Field(description="the API key to send as a Bearer credential; not stored")
