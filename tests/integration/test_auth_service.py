"""AuthService over every UserStore: in memory, SqlUserStore on SQLite and on PostgreSQL.

The clock is the test's own (no sleeping): expiry and rate limits move with it.
"""

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from quantdesk.adapters.storage.database import Database
from quantdesk.adapters.storage.user_store import SqlUserStore
from quantdesk.domain.auth import Role
from quantdesk.domain.errors import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    RateLimitedError,
)
from quantdesk.services.auth import AuthService
from quantdesk.services.auth_users import secret_digest
from quantdesk.services.ports.auth import UserStore
from support.auth import InMemoryUserStore, ManualClock, RecordingAuditLog, auth_service
from support.registry import postgres_database, sqlite_database

PASSWORD = "correct horse battery"
ADDRESS = "203.0.113.7"


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[UserStore]:
    if request.param == "memory":
        yield InMemoryUserStore()
        return
    if request.param == "sqlite":
        database = Database(sqlite_database(tmp_path))
        yield SqlUserStore(database)
        database.dispose()
        return
    with postgres_database() as url:
        database = Database(url)
        yield SqlUserStore(database)
        database.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def audit() -> RecordingAuditLog:
    return RecordingAuditLog()


@pytest.fixture
def auth(store: UserStore, audit: RecordingAuditLog, clock: ManualClock) -> AuthService:
    service = auth_service(store, audit, clock, attempts=3)
    service.add_user("alice", Role.researcher, actor="root", password=PASSWORD)
    return service


def test_login_then_authenticate_names_the_user_and_role(auth: AuthService) -> None:
    pair = auth.login("alice", PASSWORD, address=ADDRESS)
    principal = auth.authenticate(pair.access_token)
    assert (principal.username, principal.role, principal.via) == (
        "alice",
        Role.researcher,
        "token",
    )
    assert pair.expires_in == 15 * 60 and pair.token_type == "bearer"


def test_wrong_password_and_unknown_user_fail_alike(auth: AuthService) -> None:
    with pytest.raises(AuthenticationError) as wrong:
        auth.login("alice", "not the password", address=ADDRESS)
    with pytest.raises(AuthenticationError) as unknown:
        auth.login("nobody", PASSWORD, address="198.51.100.1")
    assert str(wrong.value) == str(unknown.value)
    assert wrong.value.code == unknown.value.code == "unauthenticated"
    assert "alice" not in str(wrong.value) and "nobody" not in str(unknown.value)


def test_access_token_expires_on_the_service_clock(auth: AuthService, clock: ManualClock) -> None:
    pair = auth.login("alice", PASSWORD, address=ADDRESS)
    clock.advance(15 * 60 - 1)
    assert auth.authenticate(pair.access_token).username == "alice"
    clock.advance(1)
    with pytest.raises(AuthenticationError):
        auth.authenticate(pair.access_token)


def test_refresh_rotates_and_a_spent_token_revokes_its_family(
    auth: AuthService, audit: RecordingAuditLog
) -> None:
    first = auth.login("alice", PASSWORD, address=ADDRESS)
    second = auth.refresh(first.refresh_token)
    assert second.refresh_token != first.refresh_token
    third = auth.refresh(second.refresh_token)
    with pytest.raises(AuthenticationError):
        auth.refresh(first.refresh_token)  # spent: leaked
    with pytest.raises(AuthenticationError):
        auth.refresh(third.refresh_token)  # the live one of the family is revoked too
    assert "refresh_token_reused" in audit.actions()


def test_reuse_revokes_only_that_family(auth: AuthService) -> None:
    one = auth.login("alice", PASSWORD, address=ADDRESS)
    other = auth.login("alice", PASSWORD, address=ADDRESS)
    auth.refresh(one.refresh_token)
    with pytest.raises(AuthenticationError):
        auth.refresh(one.refresh_token)
    assert auth.refresh(other.refresh_token).access_token


def test_refresh_token_expires(auth: AuthService, clock: ManualClock) -> None:
    pair = auth.login("alice", PASSWORD, address=ADDRESS)
    clock.advance(14 * 86_400)
    with pytest.raises(AuthenticationError):
        auth.refresh(pair.refresh_token)


def test_logout_revokes_the_refresh_family(auth: AuthService) -> None:
    pair = auth.login("alice", PASSWORD, address=ADDRESS)
    renewed = auth.refresh(pair.refresh_token)
    auth.logout(renewed.refresh_token)
    with pytest.raises(AuthenticationError):
        auth.refresh(renewed.refresh_token)
    auth.logout("not a token")  # unknown: a no-op that says nothing


def test_rate_limit_per_user_and_retry_after(auth: AuthService, clock: ManualClock) -> None:
    for n in range(3):
        with pytest.raises(AuthenticationError):
            auth.login("alice", "wrong password!", address=f"10.0.0.{n}")
        clock.advance(10)
    with pytest.raises(RateLimitedError) as limited:
        auth.login("alice", PASSWORD, address="10.0.0.99")  # even the right password waits
    assert limited.value.data["retry_after_s"] == 30  # first failure 30 s ago ages out in 30
    clock.advance(30)
    assert auth.login("alice", PASSWORD, address="10.0.0.99").access_token


def test_rate_limit_per_address_covers_unknown_users(auth: AuthService) -> None:
    for name in ("u1", "u2", "u3"):
        with pytest.raises(AuthenticationError):
            auth.login(name, "whatever password", address=ADDRESS)
    with pytest.raises(RateLimitedError) as limited:
        auth.login("alice", PASSWORD, address=ADDRESS)
    assert 1 <= int(str(limited.value.data["retry_after_s"])) <= 60
    assert auth.login("alice", PASSWORD, address="10.9.9.9").access_token


def test_a_success_clears_the_users_count(auth: AuthService) -> None:
    for _ in range(2):
        with pytest.raises(AuthenticationError):
            auth.login("alice", "wrong password!", address="10.1.1.1")
    auth.login("alice", PASSWORD, address="10.2.2.2")
    for _ in range(2):
        with pytest.raises(AuthenticationError):
            auth.login("alice", "wrong password!", address="10.3.3.3")
    assert auth.login("alice", PASSWORD, address="10.4.4.4").access_token


def test_a_disabled_user_is_locked_out_everywhere(auth: AuthService) -> None:
    pair = auth.login("alice", PASSWORD, address=ADDRESS)
    _, key = auth.create_api_key("ci", Role.viewer, actor="root", expires_days=None, owner="alice")
    auth.disable("alice", actor="root")
    for credential in (pair.access_token, key):
        with pytest.raises(AuthenticationError):
            auth.authenticate(credential)
    with pytest.raises(AuthenticationError):
        auth.refresh(pair.refresh_token)
    with pytest.raises(AuthenticationError):
        auth.login("alice", PASSWORD, address="10.5.5.5")
    auth.enable("alice", actor="root")
    with pytest.raises(AuthenticationError):
        auth.refresh(pair.refresh_token)  # disabling revoked the sessions for good
    assert auth.authenticate(key).via == "api_key"


def test_role_change_takes_effect_on_the_next_request(auth: AuthService) -> None:
    pair = auth.login("alice", PASSWORD, address=ADDRESS)
    auth.set_role("alice", Role.viewer, actor="root")
    assert auth.authenticate(pair.access_token).role is Role.viewer


def test_api_key_scope_expiry_revocation_and_last_use(
    auth: AuthService, clock: ManualClock, audit: RecordingAuditLog
) -> None:
    record, key = auth.create_api_key(
        "ingest bot", Role.viewer, actor="root", expires_days=1, owner="alice"
    )
    assert key.startswith(f"qdk_{record.key_id}_")
    principal = auth.authenticate(key)
    assert (principal.role, principal.key_id, principal.username) == (
        Role.viewer,
        record.key_id,
        "alice",
    )
    assert auth.api_keys()[0].last_used_ns == clock.now_ns
    with pytest.raises(AuthenticationError):
        auth.authenticate(key[:-2] + ("AA" if not key.endswith("AA") else "BB"))
    clock.advance(86_400)
    with pytest.raises(AuthenticationError):
        auth.authenticate(key)  # expired
    second, other = auth.create_api_key(
        "bot2", Role.researcher, actor="root", expires_days=None, owner="alice"
    )
    assert auth.authenticate(other).role is Role.researcher
    revoked = auth.revoke_api_key(auth.api_keys()[1].key_id, actor="root")
    assert revoked.revoked_ns == clock.now_ns
    with pytest.raises(AuthenticationError):
        auth.authenticate(other)
    secrets = [k.removeprefix(f"qdk_{r.key_id}_") for k, r in ((key, record), (other, second))]
    for secret in secrets:  # no secret, no hash of one in any payload
        assert secret not in repr(audit.appended)
        assert secret_digest(secret) not in repr(audit.appended)


def test_a_key_never_outranks_its_owner(auth: AuthService) -> None:
    with pytest.raises(ConflictError) as refused:
        auth.create_api_key("x", Role.trader, actor="root", expires_days=None, owner="alice")
    assert refused.value.code == "key_role_above_owner"
    _, key = auth.create_api_key(
        "y", Role.researcher, actor="root", expires_days=None, owner="alice"
    )
    auth.set_role("alice", Role.viewer, actor="root")
    assert auth.authenticate(key).role is Role.viewer  # demoting the owner caps its keys


def test_key_names_and_expiry_are_bounded(auth: AuthService) -> None:
    with pytest.raises(InvalidInputError):
        auth.create_api_key("x" * 65, Role.viewer, actor="root", expires_days=None, owner="alice")
    with pytest.raises(InvalidInputError):
        auth.create_api_key("ok", Role.viewer, actor="root", expires_days=0, owner="alice")
    with pytest.raises(NotFoundError):
        auth.revoke_api_key("feedfacefeedface", actor="root")


def test_malformed_credentials_are_refused(auth: AuthService) -> None:
    for credential in ("", "qdk_", "qdk_abc_def", "x" * 5000, "a.b.c", "qdk_" + "0" * 16 + "_s"):
        with pytest.raises(AuthenticationError):
            auth.authenticate(credential)


def test_ensure_admin_creates_it_once_with_a_random_password(
    store: UserStore, audit: RecordingAuditLog, clock: ManualClock
) -> None:
    service = auth_service(store, audit, clock)
    password = service.ensure_admin()
    assert password is not None and len(password) >= 20
    assert service.ensure_admin() is None
    assert auth_service(store, audit, clock).ensure_admin() is None  # a second process
    assert service.login("admin", password, address=ADDRESS).access_token
    assert password not in repr(audit.appended)


def test_the_last_admin_stays(
    store: UserStore, audit: RecordingAuditLog, clock: ManualClock
) -> None:
    service = auth_service(store, audit, clock)
    service.ensure_admin()
    with pytest.raises(ConflictError):
        service.disable("admin", actor="root")
    with pytest.raises(ConflictError):
        service.set_role("admin", Role.trader, actor="root")
    service.add_user("bob", Role.admin, actor="root", password=PASSWORD)
    service.set_role("admin", Role.trader, actor="root")
    assert service.user("admin").role is Role.trader


def test_users_are_validated_and_unique(auth: AuthService) -> None:
    with pytest.raises(ConflictError):
        auth.add_user("alice", Role.viewer, actor="root", password=PASSWORD)
    with pytest.raises(InvalidInputError):
        auth.add_user("Bad Name", Role.viewer, actor="root", password=PASSWORD)
    with pytest.raises(InvalidInputError):
        auth.add_user("carol", Role.viewer, actor="root", password="short")
    user, generated = auth.add_user("carol", Role.trader, actor="root")
    assert generated is not None and user.role is Role.trader
    assert [u.username for u in auth.users()] == ["alice", "carol"]


def test_reset_password_revokes_sessions(auth: AuthService, audit: RecordingAuditLog) -> None:
    pair = auth.login("alice", PASSWORD, address=ADDRESS)
    new = auth.reset_password("alice", actor="root")
    assert new is not None
    with pytest.raises(AuthenticationError):
        auth.refresh(pair.refresh_token)
    with pytest.raises(AuthenticationError):
        auth.login("alice", PASSWORD, address=ADDRESS)
    assert auth.login("alice", new, address=ADDRESS).access_token
    assert new not in repr(audit.appended) and PASSWORD not in repr(audit.appended)
    assert audit.actions() == ["user_added", "user_password_reset"]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield sqlite_database(tmp_path)
        return
    with postgres_database() as url:
        yield url


def test_the_limit_holds_across_server_processes(shared_url: str, clock: ManualClock) -> None:
    """Two services on one database (as two uvicorn workers): failures add up."""
    databases = [Database(shared_url), Database(shared_url)]
    one, two = (
        auth_service(SqlUserStore(d), RecordingAuditLog(), clock, attempts=2) for d in databases
    )
    one.add_user("alice", Role.viewer, actor="root", password=PASSWORD)
    with pytest.raises(AuthenticationError):
        one.login("alice", "wrong password!", address="10.0.0.1")
    with pytest.raises(AuthenticationError):
        two.login("alice", "wrong password!", address="10.0.0.2")
    with pytest.raises(RateLimitedError):
        one.login("alice", PASSWORD, address="10.0.0.3")
    for database in databases:
        database.dispose()


def test_of_concurrent_refreshes_of_one_token_exactly_one_wins(
    shared_url: str, clock: ManualClock
) -> None:
    database = Database(shared_url)
    auth = auth_service(SqlUserStore(database), RecordingAuditLog(), clock)
    auth.add_user("alice", Role.viewer, actor="root", password=PASSWORD)
    token = auth.login("alice", PASSWORD, address=ADDRESS).refresh_token
    outcomes: list[str] = []

    def refresh() -> None:
        try:
            auth.refresh(token)
            outcomes.append("renewed")
        except AuthenticationError:
            outcomes.append("refused")

    threads = [threading.Thread(target=refresh) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused"] * 5 + ["renewed"]  # one wins; the rest revoke
    database.dispose()


def test_hostile_names_never_reach_the_database(auth: AuthService) -> None:
    """A NUL (PostgreSQL refuses it in text), a huge or odd name: refused as unknown."""
    for n, name in enumerate(("a\x00b", "x" * 10_000, "ALICE", "alice\n")):
        with pytest.raises(AuthenticationError):
            auth.login(name, PASSWORD, address=f"10.7.7.{n}")
        with pytest.raises(NotFoundError):
            auth.user(name)
    for credential in ("qdk_" + "\x00" * 16 + "_secret", "qdk_" + "G" * 16 + "_secret"):
        with pytest.raises(AuthenticationError):
            auth.authenticate(credential)
    with pytest.raises(NotFoundError):
        auth.revoke_api_key("\x00" * 16, actor="root")
    with pytest.raises(AuthenticationError):
        auth.refresh("\x00" * 100)


def test_expired_refresh_tokens_are_forgotten(
    auth: AuthService, store: UserStore, clock: ManualClock
) -> None:
    old = auth.login("alice", PASSWORD, address=ADDRESS)
    spent = old.refresh_token
    auth.refresh(spent)
    clock.advance(15 * 86_400)
    auth.login("alice", PASSWORD, address=ADDRESS)  # a new login sweeps the expired ones
    assert store.refresh_token(secret_digest(spent)) is None
    with pytest.raises(AuthenticationError):
        auth.refresh(spent)
