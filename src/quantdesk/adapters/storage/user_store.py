"""``SqlUserStore``: the ``UserStore`` port on the registry's database (SQLite or PostgreSQL).

Writes go through ``Database.write`` (one locked transaction), so a check and the change it
guards (a username free, a refresh token unspent) cannot be split by another server process.
"""

from collections.abc import Sequence

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.orm import Session

from quantdesk.adapters.storage.auth_tables import (
    ApiKeyRow,
    LoginFailureRow,
    RefreshTokenRow,
    UserRow,
)
from quantdesk.adapters.storage.database import Database
from quantdesk.domain.auth import ApiKeyRecord, RefreshTokenRecord, Role, UserRecord
from quantdesk.domain.errors import ConflictError, NotFoundError

_MAX_FAILURES_PER_KEY = 1000  # a key's rows beyond this are forgotten oldest first


class SqlUserStore:
    def __init__(self, database: Database) -> None:
        self._database = database

    # --- users -----------------------------------------------------------------------------

    def add_user(self, user: UserRecord, password_hash: str) -> None:
        def work(session: Session) -> None:
            taken = session.scalar(select(UserRow.user_id).where(UserRow.username == user.username))
            if taken is not None:
                raise ConflictError(
                    f"user {user.username!r} exists",
                    code="user_exists",
                    data={"username": user.username},
                )
            session.add(
                UserRow(
                    user_id=user.user_id,
                    username=user.username,
                    role=user.role.value,
                    disabled=user.disabled,
                    password_hash=password_hash,
                    created_ns=user.created_ns,
                    updated_ns=user.updated_ns,
                    created_by=user.created_by,
                )
            )

        self._database.write(work)

    def user(self, username: str) -> UserRecord | None:
        with self._database.reading() as session:
            row = session.scalar(select(UserRow).where(UserRow.username == username))
            return None if row is None else _user(row)

    def user_by_id(self, user_id: str) -> UserRecord | None:
        with self._database.reading() as session:
            row = session.get(UserRow, user_id)
            return None if row is None else _user(row)

    def users(self) -> list[UserRecord]:
        with self._database.reading() as session:
            return [
                _user(row) for row in session.scalars(select(UserRow).order_by(UserRow.username))
            ]

    def password_hash(self, user_id: str) -> str | None:
        with self._database.reading() as session:
            return session.scalar(select(UserRow.password_hash).where(UserRow.user_id == user_id))

    def update_user(
        self,
        user_id: str,
        *,
        at_ns: int,
        role: Role | None = None,
        disabled: bool | None = None,
        password_hash: str | None = None,
    ) -> UserRecord:
        def work(session: Session) -> UserRecord:
            row = session.get(UserRow, user_id)
            if row is None:
                raise NotFoundError("no such user", code="user_not_found")
            if role is not None:
                row.role = role.value
            if disabled is not None:
                row.disabled = disabled
            if password_hash is not None:
                row.password_hash = password_hash
            row.updated_ns = at_ns
            session.flush()
            return _user(row)

        return self._database.write(work)

    # --- refresh tokens --------------------------------------------------------------------

    def add_refresh_token(self, token: RefreshTokenRecord) -> None:
        """Store a login's first token; tokens expired by now go (they can never be used, and
        a spent one past its expiry needs no reuse check), so the table stays bounded."""

        def work(session: Session) -> None:
            expired = RefreshTokenRow.expires_ns < token.issued_ns
            session.execute(delete(RefreshTokenRow).where(expired))
            session.add(_token_row(token))

        self._database.write(work)

    def refresh_token(self, token_hash: str) -> RefreshTokenRecord | None:
        with self._database.reading() as session:
            row = session.get(RefreshTokenRow, token_hash)
            return None if row is None else _token(row)

    def rotate_refresh_token(
        self, token_hash: str, successor: RefreshTokenRecord, *, at_ns: int
    ) -> bool:
        def work(session: Session) -> bool:
            row = session.get(RefreshTokenRow, token_hash)
            if row is None or row.spent_ns is not None or row.revoked_ns is not None:
                return False
            row.spent_ns = at_ns
            session.add(_token_row(successor))
            return True

        return self._database.write(work)

    def revoke_refresh_family(self, family_id: str, *, at_ns: int) -> int:
        return self._revoke_tokens(RefreshTokenRow.family_id == family_id, at_ns)

    def revoke_user_refresh_tokens(self, user_id: str, *, at_ns: int) -> int:
        return self._revoke_tokens(RefreshTokenRow.user_id == user_id, at_ns)

    def _revoke_tokens(self, which: ColumnElement[bool], at_ns: int) -> int:
        def work(session: Session) -> int:
            result = session.execute(
                update(RefreshTokenRow)
                .where(which, RefreshTokenRow.revoked_ns.is_(None))
                .values(revoked_ns=at_ns)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

        return self._database.write(work)

    # --- API keys --------------------------------------------------------------------------

    def add_api_key(self, key: ApiKeyRecord, secret_hash: str) -> None:
        row = ApiKeyRow(
            key_id=key.key_id,
            name=key.name,
            role=key.role.value,
            user_id=key.user_id,
            secret_hash=secret_hash,
            created_by=key.created_by,
            created_ns=key.created_ns,
            expires_ns=key.expires_ns,
            revoked_ns=key.revoked_ns,
            last_used_ns=key.last_used_ns,
        )
        self._database.write(lambda session: session.add(row))

    def api_key(self, key_id: str) -> tuple[ApiKeyRecord, str] | None:
        with self._database.reading() as session:
            row = session.get(ApiKeyRow, key_id)
            return None if row is None else (_key(row), row.secret_hash)

    def api_keys(self) -> list[ApiKeyRecord]:
        with self._database.reading() as session:
            rows = session.scalars(
                select(ApiKeyRow).order_by(ApiKeyRow.created_ns, ApiKeyRow.key_id)
            )
            return [_key(row) for row in rows]

    def revoke_api_key(self, key_id: str, *, at_ns: int) -> ApiKeyRecord | None:
        def work(session: Session) -> ApiKeyRecord | None:
            row = session.get(ApiKeyRow, key_id)
            if row is None:
                return None
            if row.revoked_ns is None:
                row.revoked_ns = at_ns
            session.flush()
            return _key(row)

        return self._database.write(work)

    def touch_api_key(self, key_id: str, *, at_ns: int) -> None:
        self._database.write(
            lambda session: session.execute(
                update(ApiKeyRow).where(ApiKeyRow.key_id == key_id).values(last_used_ns=at_ns)
            )
        )

    # --- failed logins ---------------------------------------------------------------------

    def record_login_failure(self, keys: Sequence[str], *, at_ns: int, window_ns: int) -> None:
        def work(session: Session) -> None:
            session.execute(
                delete(LoginFailureRow).where(LoginFailureRow.at_ns < at_ns - window_ns)
            )
            for key in keys:
                session.add(LoginFailureRow(limit_key=key, at_ns=at_ns))
                _trim(session, key)

        self._database.write(work)

    def login_failures(self, key: str, *, since_ns: int) -> list[int]:
        with self._database.reading() as session:
            return list(
                session.scalars(
                    select(LoginFailureRow.at_ns)
                    .where(LoginFailureRow.limit_key == key, LoginFailureRow.at_ns >= since_ns)
                    .order_by(LoginFailureRow.at_ns)
                )
            )

    def clear_login_failures(self, key: str) -> None:
        self._database.write(
            lambda session: session.execute(
                delete(LoginFailureRow).where(LoginFailureRow.limit_key == key)
            )
        )


def _trim(session: Session, key: str) -> None:
    """Keep a key's newest rows only: a flood from one address cannot grow the table."""
    session.flush()
    count = session.scalar(
        select(func.count()).select_from(LoginFailureRow).where(LoginFailureRow.limit_key == key)
    )
    if count is None or count <= _MAX_FAILURES_PER_KEY:
        return
    oldest = (
        select(LoginFailureRow.row_id)
        .where(LoginFailureRow.limit_key == key)
        .order_by(LoginFailureRow.at_ns, LoginFailureRow.row_id)
        .limit(count - _MAX_FAILURES_PER_KEY)
    )
    session.execute(delete(LoginFailureRow).where(LoginFailureRow.row_id.in_(oldest)))


def _user(row: UserRow) -> UserRecord:
    return UserRecord.model_validate(row, from_attributes=True)


def _token_row(token: RefreshTokenRecord) -> RefreshTokenRow:
    return RefreshTokenRow(**token.model_dump())


def _token(row: RefreshTokenRow) -> RefreshTokenRecord:
    return RefreshTokenRecord.model_validate(row, from_attributes=True)


def _key(row: ApiKeyRow) -> ApiKeyRecord:
    """The key's record (its stored secret hash stays in the row)."""
    return ApiKeyRecord.model_validate(row, from_attributes=True)
