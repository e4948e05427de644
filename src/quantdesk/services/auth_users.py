"""The users and API keys behind authentication, as an administrator manages them.

Every change is audited (actor, action, subject ``user:NAME`` / ``api_key:ID``) with no
password, secret or hash in the payload. The last enabled admin cannot be disabled or
demoted: nobody could manage users over the API after it.
"""

import hashlib
import re
import secrets
import time
import uuid
from collections.abc import Callable, Mapping

from quantdesk.domain.auth import (
    API_KEY_PREFIX,
    MAX_KEY_DAYS,
    ApiKeyRecord,
    Role,
    UserRecord,
    checked_key_name,
    checked_password,
    checked_username,
    generated_password,
    is_username,
    limit_key,
    role_rank,
)
from quantdesk.domain.errors import ConflictError, InvalidInputError, NotFoundError
from quantdesk.services.ports.auth import PasswordHasher, UserStore
from quantdesk.services.ports.registry import AuditLog

NS_PER_S = 1_000_000_000
NS_PER_DAY = 86_400 * NS_PER_S
KEY_ID_HEX = 16
_KEY_ID = re.compile(f"[0-9a-f]{{{KEY_ID_HEX}}}")
Clock = Callable[[], int]
AuditPayload = Mapping[str, str | int | bool | None]


def secret_digest(secret: str) -> str:
    """SHA-256 of a 256-bit random secret (refresh token, API key): a slow hash protects
    guessable passwords, which these are not, and keys are checked on every request."""
    return hashlib.sha256(secret.encode()).hexdigest()


def is_key_id(text: str) -> bool:
    return _KEY_ID.fullmatch(text) is not None


def user_subject(user: UserRecord) -> str:
    return f"user:{user.username}"


class UserAdministration:
    """Users and API keys: add, list, disable, enable, set a role, reset a password; create,
    list and revoke keys."""

    def __init__(
        self,
        store: UserStore,
        hasher: PasswordHasher,
        audit: AuditLog,
        *,
        clock: Clock = time.time_ns,
    ) -> None:
        self._store = store
        self._hasher = hasher
        self._audit = audit
        self._clock = clock

    # --- users ----------------------------------------------------------------------------

    def add_user(
        self, username: str, role: Role, *, actor: str, password: str | None = None
    ) -> tuple[UserRecord, str | None]:
        """The new user, and its password when one was generated (shown once)."""
        checked_username(username)
        chosen, generated = _password(password, username)
        return self._add(username, role, chosen, actor=actor), generated

    def users(self) -> list[UserRecord]:
        return self._store.users()

    def user(self, username: str) -> UserRecord:
        user = self._store.user(username) if is_username(username) else None
        if user is None:
            raise NotFoundError(
                f"no user {username[:64]!r}",
                code="user_not_found",
                data={"username": username[:64]},
            )
        return user

    def disable(self, username: str, *, actor: str) -> UserRecord:
        """Lock the user out: its tokens stop working at once, its refresh tokens and keys too."""
        user = self.user(username)
        self._keep_an_admin(user)
        now = self._clock()
        changed = self._store.update_user(user.user_id, at_ns=now, disabled=True)
        revoked = self._store.revoke_user_refresh_tokens(user.user_id, at_ns=now)
        self._record(actor, "user_disabled", user_subject(user), {"sessions": revoked}, now)
        return changed

    def enable(self, username: str, *, actor: str) -> UserRecord:
        user = self.user(username)
        now = self._clock()
        changed = self._store.update_user(user.user_id, at_ns=now, disabled=False)
        self._record(actor, "user_enabled", user_subject(user), {}, now)
        return changed

    def set_role(self, username: str, role: Role, *, actor: str) -> UserRecord:
        user = self.user(username)
        if role is not Role.admin:
            self._keep_an_admin(user)
        now = self._clock()
        changed = self._store.update_user(user.user_id, at_ns=now, role=role)
        payload = {"role": role.value, "previous_role": user.role.value}
        self._record(actor, "user_role_set", user_subject(user), payload, now)
        return changed

    def reset_password(
        self, username: str, *, actor: str, password: str | None = None
    ) -> str | None:
        """Set a new password (generated when None: returned once); the user's refresh
        tokens are revoked, so every other session must log in again."""
        user = self.user(username)
        chosen, generated = _password(password, username)
        now = self._clock()
        self._store.update_user(user.user_id, at_ns=now, password_hash=self._hasher.hash(chosen))
        revoked = self._store.revoke_user_refresh_tokens(user.user_id, at_ns=now)
        self._store.clear_login_failures(limit_key("user", username))
        self._record(actor, "user_password_reset", user_subject(user), {"sessions": revoked}, now)
        return generated

    # --- API keys --------------------------------------------------------------------------

    def create_api_key(
        self,
        name: str,
        role: Role,
        *,
        actor: str,
        expires_days: int | None,
        owner: str | None = None,
    ) -> tuple[ApiKeyRecord, str]:
        """A key acting for ``owner`` (default: the actor) as ``role``, and the key itself,
        ``qdk_<key id>_<secret>``, shown this once."""
        checked_key_name(name)
        holder = self.user(owner if owner is not None else actor)
        if holder.disabled:
            raise ConflictError(
                f"user {holder.username!r} is disabled",
                code="user_disabled",
                data={"username": holder.username},
            )
        if role_rank(role) > role_rank(holder.role):
            raise ConflictError(
                f"a key of {holder.username!r} may have role {holder.role.value} at most",
                code="key_role_above_owner",
                data={"role": role.value, "owner_role": holder.role.value},
            )
        if expires_days is not None and not 1 <= expires_days <= MAX_KEY_DAYS:
            raise InvalidInputError(
                f"expires_days must be 1..{MAX_KEY_DAYS}",
                code="key_expiry_out_of_range",
                data={"expires_days": expires_days},
            )
        now = self._clock()
        key_id, secret = secrets.token_hex(KEY_ID_HEX // 2), secrets.token_urlsafe(32)
        record = ApiKeyRecord(
            key_id=key_id,
            name=name,
            role=role,
            user_id=holder.user_id,
            created_by=actor,
            created_ns=now,
            expires_ns=None if expires_days is None else now + expires_days * NS_PER_DAY,
        )
        self._store.add_api_key(record, secret_digest(secret))
        payload = {
            "name": name,
            "role": role.value,
            "owner": holder.username,
            "expires_ns": record.expires_ns,
        }
        self._record(actor, "api_key_created", f"api_key:{key_id}", payload, now)
        return record, f"{API_KEY_PREFIX}{key_id}_{secret}"

    def api_keys(self) -> list[ApiKeyRecord]:
        return self._store.api_keys()

    def revoke_api_key(self, key_id: str, *, actor: str) -> ApiKeyRecord:
        now = self._clock()
        record = self._store.revoke_api_key(key_id, at_ns=now) if is_key_id(key_id) else None
        if record is None:
            raise NotFoundError(
                f"no API key {key_id[:64]!r}",
                code="api_key_not_found",
                data={"key_id": key_id[:64]},
            )
        self._record(
            actor, "api_key_revoked", f"api_key:{record.key_id}", {"name": record.name}, now
        )
        return record

    # --- inside ---------------------------------------------------------------------------

    def _add(self, username: str, role: Role, password: str, *, actor: str) -> UserRecord:
        now = self._clock()
        user = UserRecord(
            user_id=uuid.uuid4().hex,
            username=username,
            role=role,
            created_ns=now,
            updated_ns=now,
            created_by=actor,
        )
        self._store.add_user(user, self._hasher.hash(password))
        self._record(actor, "user_added", user_subject(user), {"role": role.value}, now)
        return user

    def _keep_an_admin(self, user: UserRecord) -> None:
        """Refuse to take away the last enabled admin (nobody could manage users after it)."""
        if user.role is not Role.admin or user.disabled:
            return
        others = [
            u
            for u in self._store.users()
            if u.role is Role.admin and not u.disabled and u.user_id != user.user_id
        ]
        if not others:
            raise ConflictError(
                f"{user.username!r} is the last enabled admin",
                code="last_admin",
                data={"username": user.username},
            )

    def _record(
        self, actor: str, action: str, subject: str, payload: AuditPayload, at_ns: int
    ) -> None:
        self._audit.append(actor, action, subject, dict(payload), at_ns)


def _password(password: str | None, username: str) -> tuple[str, str | None]:
    """The password to set, and the same again when it was generated (to show it once)."""
    if password is None:
        generated = generated_password()
        return generated, generated
    return checked_password(password, username), None
