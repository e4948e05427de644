"""Auth for tests: an in-memory ``UserStore`` and ``AuditLog``, a clock the test moves, and
an ``AuthService`` over either the in-memory store or ``SqlUserStore``."""

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import argon2

from quantdesk.adapters.security.passwords import Argon2PasswordHasher
from quantdesk.adapters.security.tokens import JwtTokenCodec
from quantdesk.domain.audit import AuditAnchor, AuditEvent
from quantdesk.domain.auth import ApiKeyRecord, RefreshTokenRecord, Role, UserRecord
from quantdesk.domain.errors import ConflictError, NotFoundError
from quantdesk.services.auth import AuthService
from quantdesk.services.ports.auth import UserStore
from quantdesk.services.ports.registry import AuditLog

START_NS = 1_800_000_000 * 1_000_000_000
SECRET = b"k" * 32


@dataclass
class ManualClock:
    now_ns: int = START_NS

    def __call__(self) -> int:
        return self.now_ns

    def advance(self, seconds: float) -> None:
        self.now_ns += int(seconds * 1_000_000_000)


@dataclass
class RecordingAuditLog:
    """The ``AuditLog`` port as a list (no chain: the tests read what was appended)."""

    appended: list[tuple[str, str, str, dict[str, object], int]] = field(default_factory=list)

    def append(
        self, actor: str, action: str, subject: str, payload: dict[str, object], at_ns: int
    ) -> AuditEvent:
        self.appended.append((actor, action, subject, dict(payload), at_ns))
        return AuditEvent(
            seq=len(self.appended),
            at_ns=at_ns,
            actor=actor,
            action=action,
            subject=subject,
            prev_hash="0" * 64,
            hash="0" * 64,
        )

    def events(self, after_seq: int = 0) -> Iterator[AuditEvent]:
        return iter(())

    def head(self) -> tuple[AuditAnchor, str | None] | None:
        return None

    def actions(self) -> list[str]:
        return [entry[1] for entry in self.appended]


@dataclass
class InMemoryUserStore:
    """The ``UserStore`` port in dictionaries."""

    _users: dict[str, tuple[UserRecord, str]] = field(default_factory=dict)
    _tokens: dict[str, RefreshTokenRecord] = field(default_factory=dict)
    _keys: dict[str, tuple[ApiKeyRecord, str]] = field(default_factory=dict)
    _failures: dict[str, list[int]] = field(default_factory=dict)

    def add_user(self, user: UserRecord, password_hash: str) -> None:
        if self.user(user.username) is not None:
            raise ConflictError("user exists", code="user_exists")
        self._users[user.user_id] = (user, password_hash)

    def user(self, username: str) -> UserRecord | None:
        return next((u for u, _ in self._users.values() if u.username == username), None)

    def user_by_id(self, user_id: str) -> UserRecord | None:
        found = self._users.get(user_id)
        return None if found is None else found[0]

    def users(self) -> list[UserRecord]:
        return sorted((u for u, _ in self._users.values()), key=lambda u: u.username)

    def password_hash(self, user_id: str) -> str | None:
        found = self._users.get(user_id)
        return None if found is None else found[1]

    def update_user(
        self,
        user_id: str,
        *,
        at_ns: int,
        role: Role | None = None,
        disabled: bool | None = None,
        password_hash: str | None = None,
    ) -> UserRecord:
        if user_id not in self._users:
            raise NotFoundError("no such user", code="user_not_found")
        user, stored = self._users[user_id]
        changes: dict[str, object] = {"updated_ns": at_ns}
        if role is not None:
            changes["role"] = role
        if disabled is not None:
            changes["disabled"] = disabled
        user = user.model_copy(update=changes)
        self._users[user_id] = (user, stored if password_hash is None else password_hash)
        return user

    def add_refresh_token(self, token: RefreshTokenRecord) -> None:
        live = {h: t for h, t in self._tokens.items() if t.expires_ns >= token.issued_ns}
        self._tokens = {**live, token.token_hash: token}

    def refresh_token(self, token_hash: str) -> RefreshTokenRecord | None:
        return self._tokens.get(token_hash)

    def rotate_refresh_token(
        self, token_hash: str, successor: RefreshTokenRecord, *, at_ns: int
    ) -> bool:
        token = self._tokens.get(token_hash)
        if token is None or token.spent_ns is not None or token.revoked_ns is not None:
            return False
        self._tokens[token_hash] = token.model_copy(update={"spent_ns": at_ns})
        self._tokens[successor.token_hash] = successor
        return True

    def revoke_refresh_family(self, family_id: str, *, at_ns: int) -> int:
        return self._revoke(lambda t: t.family_id == family_id, at_ns)

    def revoke_user_refresh_tokens(self, user_id: str, *, at_ns: int) -> int:
        return self._revoke(lambda t: t.user_id == user_id, at_ns)

    def _revoke(self, which: Callable[[RefreshTokenRecord], bool], at_ns: int) -> int:
        hits = [t for t in self._tokens.values() if which(t) and t.revoked_ns is None]
        for token in hits:
            self._tokens[token.token_hash] = token.model_copy(update={"revoked_ns": at_ns})
        return len(hits)

    def add_api_key(self, key: ApiKeyRecord, secret_hash: str) -> None:
        self._keys[key.key_id] = (key, secret_hash)

    def api_key(self, key_id: str) -> tuple[ApiKeyRecord, str] | None:
        return self._keys.get(key_id)

    def api_keys(self) -> list[ApiKeyRecord]:
        return sorted((k for k, _ in self._keys.values()), key=lambda k: k.created_ns)

    def revoke_api_key(self, key_id: str, *, at_ns: int) -> ApiKeyRecord | None:
        found = self._keys.get(key_id)
        if found is None:
            return None
        key, stored = found
        if key.revoked_ns is None:
            key = key.model_copy(update={"revoked_ns": at_ns})
            self._keys[key_id] = (key, stored)
        return key

    def touch_api_key(self, key_id: str, *, at_ns: int) -> None:
        key, stored = self._keys[key_id]
        self._keys[key_id] = (key.model_copy(update={"last_used_ns": at_ns}), stored)

    def record_login_failure(self, keys: Sequence[str], *, at_ns: int, window_ns: int) -> None:
        for key in keys:
            kept = [t for t in self._failures.get(key, []) if t >= at_ns - window_ns]
            self._failures[key] = [*kept, at_ns]

    def login_failures(self, key: str, *, since_ns: int) -> list[int]:
        return sorted(t for t in self._failures.get(key, []) if t >= since_ns)

    def clear_login_failures(self, key: str) -> None:
        self._failures.pop(key, None)


def cheap_hasher() -> Argon2PasswordHasher:
    """argon2id with the cheapest parameters: the same code path, milliseconds per hash."""
    return Argon2PasswordHasher(argon2.profiles.CHEAPEST)


def auth_service(
    store: UserStore,
    audit: AuditLog,
    clock: ManualClock,
    *,
    attempts: int = 5,
    access_minutes: int = 15,
    refresh_days: int = 14,
) -> AuthService:
    return AuthService(
        store,
        cheap_hasher(),
        JwtTokenCodec(SECRET),
        audit,
        access_token_minutes=access_minutes,
        refresh_token_days=refresh_days,
        login_attempts_per_minute=attempts,
        clock=clock,
    )
