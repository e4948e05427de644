"""Who is calling: users with passwords, access and refresh tokens, API keys for machines.

- Access tokens are short-lived and signed (the ``TokenCodec``); each use is checked against
  the user's stored state, so a disabled user is locked out at once and a role change takes
  effect on the next request.
- Refresh tokens are opaque, stored by their hash, spent by one use: a refresh hands out the
  next one of the same family. A spent token presented again leaked (one of two holders is
  an attacker), so its whole family is revoked.
- API keys (``qdk_<key id>_<secret>``) act for their owner with a role no higher than the
  owner's; their secret is shown once and stored hashed.
- Failed logins are counted per user and per address in the store (shared by every server
  process); past the limit a login is refused before its password is even checked.

Secrets (256-bit random) are hashed with SHA-256: a slow hash protects guessable passwords,
which these are not, and keys are checked on every request. Passwords use argon2id.
Failure messages never say whether the user exists.
"""

import hmac
import logging
import math
import secrets
import time
import uuid

from quantdesk.domain.auth import (
    ADMIN_USERNAME,
    API_KEY_PREFIX,
    PASSWORD_MAX_CHARS,
    Principal,
    RefreshTokenRecord,
    Role,
    TokenPair,
    UserRecord,
    generated_password,
    is_username,
    limit_key,
    role_rank,
)
from quantdesk.domain.errors import (
    AuthenticationError,
    ConflictError,
    RateLimitedError,
)
from quantdesk.services.auth_users import (
    NS_PER_DAY,
    NS_PER_S,
    AuditPayload,
    Clock,
    UserAdministration,
    is_key_id,
    secret_digest,
    user_subject,
)
from quantdesk.services.ports.auth import AccessClaims, PasswordHasher, TokenCodec, UserStore
from quantdesk.services.ports.registry import AuditLog

log = logging.getLogger(__name__)

LOGIN_WINDOW_NS = 60 * NS_PER_S
KEY_TOUCH_EVERY_NS = 60 * NS_PER_S  # last-used time: one write a minute per key, not per call
MAX_CREDENTIAL_CHARS = 4096
SYSTEM_ACTOR = "system"


def _denied() -> AuthenticationError:
    return AuthenticationError("invalid or expired credentials")


def _login_denied() -> AuthenticationError:
    return AuthenticationError("invalid username or password")


class AuthService(UserAdministration):
    """Logins, tokens, API keys and the users behind them; every change audited."""

    def __init__(
        self,
        store: UserStore,
        hasher: PasswordHasher,
        tokens: TokenCodec,
        audit: AuditLog,
        *,
        access_token_minutes: int,
        refresh_token_days: int,
        login_attempts_per_minute: int,
        clock: Clock = time.time_ns,
    ) -> None:
        super().__init__(store, hasher, audit, clock=clock)
        self._tokens = tokens
        self._access_s = access_token_minutes * 60
        self._refresh_ns = refresh_token_days * NS_PER_DAY
        self._attempts = login_attempts_per_minute
        self._dummy_hash: str | None = None

    # --- first start ---------------------------------------------------------------------

    def ensure_admin(self) -> str | None:
        """Create user ``admin`` with a random password when no enabled admin exists; the
        password is returned this once (None when nothing was created)."""
        users = self._store.users()
        if any(u.role is Role.admin and not u.disabled for u in users):
            return None
        if any(u.username == ADMIN_USERNAME for u in users):
            return None  # an operator disabled or demoted it: not ours to undo
        password = generated_password()
        try:
            self._add(ADMIN_USERNAME, Role.admin, password, actor=SYSTEM_ACTOR)
        except ConflictError:
            return None  # another server process created it first
        return password

    # --- sessions --------------------------------------------------------------------------

    def login(self, username: str, password: str, *, address: str) -> TokenPair:
        now = self._clock()
        keys = [limit_key("user", username), limit_key("address", address)]
        for key in keys:
            self._check_rate(key, now)
        user = self._store.user(username) if is_username(username) else None
        stored = None if user is None else self._store.password_hash(user.user_id)
        # Verify even for an unknown user: the time taken says nothing about existence.
        ok = len(password) <= PASSWORD_MAX_CHARS and self._hasher.verify(
            stored if stored is not None else self._dummy(), password
        )
        if not ok or user is None or stored is None or user.disabled:
            self._store.record_login_failure(keys, at_ns=now, window_ns=LOGIN_WINDOW_NS)
            log.info("a failed login from %s", address[:100])
            raise _login_denied()
        if self._hasher.needs_rehash(stored):
            self._store.update_user(
                user.user_id, at_ns=now, password_hash=self._hasher.hash(password)
            )
        self._store.clear_login_failures(keys[0])
        pair, token = self._pair(user, uuid.uuid4().hex, now)
        self._store.add_refresh_token(token)
        return pair

    def refresh(self, refresh_token: str) -> TokenPair:
        now = self._clock()
        token = self._refresh_record(refresh_token)
        if token is None or token.revoked_ns is not None:
            raise _denied()
        if token.spent_ns is not None:
            self._revoke_reused(token, now)
            raise _denied()
        user = self._store.user_by_id(token.user_id)
        if now >= token.expires_ns or user is None or user.disabled:
            raise _denied()
        pair, successor = self._pair(user, token.family_id, now)
        if not self._store.rotate_refresh_token(token.token_hash, successor, at_ns=now):
            self._revoke_reused(token, now)  # a concurrent refresh spent it first
            raise _denied()
        return pair

    def logout(self, refresh_token: str, *, user_id: str | None = None) -> None:
        """Revoke the token's family (this login, however often refreshed); an unknown token,
        or one of another user than ``user_id`` when given, is a no-op that says nothing."""
        token = self._refresh_record(refresh_token)
        if token is None or (user_id is not None and token.user_id != user_id):
            return
        now = self._clock()
        revoked = self._store.revoke_refresh_family(token.family_id, at_ns=now)
        user = self._store.user_by_id(token.user_id)
        if revoked and user is not None:
            self._record(user.username, "logout", user_subject(user), {}, now)

    def authenticate(self, credential: str) -> Principal:
        """The caller behind an access token or an API key; AuthenticationError otherwise."""
        if not 0 < len(credential) <= MAX_CREDENTIAL_CHARS:
            raise _denied()
        now = self._clock()
        if credential.startswith(API_KEY_PREFIX):
            return self._key_principal(credential, now)
        claims = self._tokens.read(credential, now_s=now // NS_PER_S)
        user = self._store.user_by_id(claims.subject)
        if user is None or user.disabled:
            raise _denied()
        return Principal(user_id=user.user_id, username=user.username, role=user.role, via="token")

    # --- inside ----------------------------------------------------------------------------

    def _pair(
        self, user: UserRecord, family_id: str, now: int
    ) -> tuple[TokenPair, RefreshTokenRecord]:
        issued_s = now // NS_PER_S
        access = self._tokens.issue(
            AccessClaims(
                subject=user.user_id,
                role=user.role,
                token_id=uuid.uuid4().hex,
                issued_s=issued_s,
                expires_s=issued_s + self._access_s,
            )
        )
        value = secrets.token_urlsafe(32)
        token = RefreshTokenRecord(
            token_hash=secret_digest(value),
            family_id=family_id,
            user_id=user.user_id,
            issued_ns=now,
            expires_ns=now + self._refresh_ns,
        )
        return TokenPair(access_token=access, refresh_token=value, expires_in=self._access_s), token

    def _refresh_record(self, value: str) -> RefreshTokenRecord | None:
        if not 0 < len(value) <= 200:
            return None
        return self._store.refresh_token(secret_digest(value))

    def _revoke_reused(self, token: RefreshTokenRecord, now: int) -> None:
        revoked = self._store.revoke_refresh_family(token.family_id, at_ns=now)
        user = self._store.user_by_id(token.user_id)
        subject = f"user_id:{token.user_id}" if user is None else user_subject(user)
        payload: AuditPayload = {"family_id": token.family_id, "revoked": revoked}
        self._record(SYSTEM_ACTOR, "refresh_token_reused", subject, payload, now)
        log.warning("a spent refresh token was presented again: its family is revoked")

    def _key_principal(self, credential: str, now: int) -> Principal:
        key_id, separator, secret = credential.removeprefix(API_KEY_PREFIX).partition("_")
        if not separator or not is_key_id(key_id) or not secret:
            raise _denied()
        found = self._store.api_key(key_id)
        if found is None:
            raise _denied()
        record, stored = found
        if not hmac.compare_digest(secret_digest(secret), stored) or not record.usable_at(now):
            raise _denied()
        owner = self._store.user_by_id(record.user_id)
        if owner is None or owner.disabled:
            raise _denied()
        if record.last_used_ns is None or now - record.last_used_ns >= KEY_TOUCH_EVERY_NS:
            self._store.touch_api_key(key_id, at_ns=now)
        role = min(record.role, owner.role, key=role_rank)  # never above the owner's today
        return Principal(
            user_id=owner.user_id,
            username=owner.username,
            role=role,
            via="api_key",
            key_id=record.key_id,
        )

    def _check_rate(self, key: str, now: int) -> None:
        failures = self._store.login_failures(key, since_ns=now - LOGIN_WINDOW_NS + 1)
        if len(failures) < self._attempts:
            return
        # Free again when enough of the window's failures have aged out of it.
        frees_at = failures[len(failures) - self._attempts] + LOGIN_WINDOW_NS
        retry_after_s = max(1, math.ceil((frees_at - now) / NS_PER_S))
        raise RateLimitedError(
            "too many failed logins: try again later",
            data={"retry_after_s": retry_after_s},
        )

    def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))
        return self._dummy_hash
