"""What authentication needs from the outside world: a store of users, refresh tokens, API
keys and failed logins; a password hasher; a signer of access tokens.

Stores hold hashes only: a password, a refresh token or an API key secret never reaches
them in clear text.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from quantdesk.domain.auth import ApiKeyRecord, RefreshTokenRecord, Role, UserRecord


@dataclass(frozen=True)
class AccessClaims:
    """What an access token says: who (``subject`` = user id), as which role, until when."""

    subject: str
    role: Role
    token_id: str
    issued_s: int
    expires_s: int


class UserStore(Protocol):
    """Users, refresh tokens, API keys and failed-login counts, shared by every process."""

    # --- users -----------------------------------------------------------------------------

    def add_user(self, user: UserRecord, password_hash: str) -> None:
        """ConflictError (code user_exists) when the username is taken."""
        ...

    def user(self, username: str) -> UserRecord | None: ...

    def user_by_id(self, user_id: str) -> UserRecord | None: ...

    def users(self) -> list[UserRecord]:
        """By username."""
        ...

    def password_hash(self, user_id: str) -> str | None: ...

    def update_user(
        self,
        user_id: str,
        *,
        at_ns: int,
        role: Role | None = None,
        disabled: bool | None = None,
        password_hash: str | None = None,
    ) -> UserRecord:
        """The changed user (fields left None stay); NotFoundError when absent."""
        ...

    # --- refresh tokens --------------------------------------------------------------------

    def add_refresh_token(self, token: RefreshTokenRecord) -> None:
        """A login's first token; tokens expired before it was issued may be forgotten."""
        ...

    def refresh_token(self, token_hash: str) -> RefreshTokenRecord | None: ...

    def rotate_refresh_token(
        self, token_hash: str, successor: RefreshTokenRecord, *, at_ns: int
    ) -> bool:
        """Atomically: when ``token_hash`` is neither spent nor revoked, mark it spent and store
        ``successor``; True. Otherwise change nothing; False (a concurrent refresh won)."""
        ...

    def revoke_refresh_family(self, family_id: str, *, at_ns: int) -> int:
        """Revoke every live token of the family; how many."""
        ...

    def revoke_user_refresh_tokens(self, user_id: str, *, at_ns: int) -> int: ...

    # --- API keys --------------------------------------------------------------------------

    def add_api_key(self, key: ApiKeyRecord, secret_hash: str) -> None: ...

    def api_key(self, key_id: str) -> tuple[ApiKeyRecord, str] | None:
        """The key and its secret's hash."""
        ...

    def api_keys(self) -> list[ApiKeyRecord]:
        """Oldest first."""
        ...

    def revoke_api_key(self, key_id: str, *, at_ns: int) -> ApiKeyRecord | None:
        """The key as revoked (the first revocation's time stays); None when unknown."""
        ...

    def touch_api_key(self, key_id: str, *, at_ns: int) -> None:
        """Record a use (``last_used_ns``)."""
        ...

    # --- failed logins ---------------------------------------------------------------------

    def record_login_failure(self, keys: Sequence[str], *, at_ns: int, window_ns: int) -> None:
        """One failure against each key (a user's, an address's); failures older than the
        window may be forgotten."""
        ...

    def login_failures(self, key: str, *, since_ns: int) -> list[int]:
        """The times of the key's failures since ``since_ns``, oldest first."""
        ...

    def clear_login_failures(self, key: str) -> None: ...


class PasswordHasher(Protocol):
    """A slow, salted password hash (argon2id); ``verify`` never raises on a wrong password."""

    def hash(self, password: str) -> str: ...

    def verify(self, password_hash: str, password: str) -> bool: ...

    def needs_rehash(self, password_hash: str) -> bool: ...


class TokenCodec(Protocol):
    """Signs and reads access tokens. ``read`` checks the signature and the claims' shape and
    expiry at ``now_s`` (the service's clock) and raises AuthenticationError otherwise."""

    def issue(self, claims: AccessClaims) -> str: ...

    def read(self, token: str, *, now_s: int) -> AccessClaims: ...
