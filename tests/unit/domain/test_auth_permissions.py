"""The one permission table: every role against every permission, as the issue words it
(viewers read; researchers register strategies, ingest data and signals, run backtests and
validations; traders also control live sessions, limits and the kill switch; admins manage
users, keys and flags)."""

import pytest

from quantdesk.domain.auth import (
    ROLE_ORDER,
    ROLE_PERMISSIONS,
    Permission,
    Principal,
    Role,
    allows,
    checked_key_name,
    checked_password,
    checked_username,
    limit_key,
)
from quantdesk.domain.errors import InvalidInputError

P = Permission
EXPECTED: dict[Role, set[Permission]] = {
    Role.viewer: {P.read},
    Role.researcher: {
        P.read,
        P.strategies_write,
        P.backtests_run,
        P.data_write,
        P.signals_ingest,
        P.validations_run,
        P.jobs_cancel,
    },
    Role.trader: {
        P.read,
        P.strategies_write,
        P.backtests_run,
        P.data_write,
        P.signals_ingest,
        P.validations_run,
        P.jobs_cancel,
        P.risk_control,
        P.live_control,
    },
    Role.admin: set(Permission),
}


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("permission", list(Permission))
def test_every_role_against_every_permission(role: Role, permission: Permission) -> None:
    assert allows(role, permission) is (permission in EXPECTED[role])
    principal = Principal(user_id="u", username="u", role=role, via="token")
    assert principal.allows(permission) is allows(role, permission)


def test_the_table_covers_every_role_and_the_order_is_every_role() -> None:
    assert set(ROLE_PERMISSIONS) == set(Role) == set(ROLE_ORDER)
    assert {r: set(p) for r, p in ROLE_PERMISSIONS.items()} == EXPECTED


def test_only_admins_manage_users_and_flags() -> None:
    for permission in (P.users_manage, P.flags_manage):
        assert [r for r in Role if allows(r, permission)] == [Role.admin]


@pytest.mark.parametrize("name", ["admin", "a", "rita.k", "bot_1", "x-" + "y" * 62])
def test_usernames_accepted(name: str) -> None:
    assert checked_username(name) == name


@pytest.mark.parametrize("name", ["", "Admin", "1abc", "a b", "a" * 65, "ü", "a\x00"])
def test_usernames_refused(name: str) -> None:
    with pytest.raises(InvalidInputError):
        checked_username(name)


def test_passwords_are_bounded_and_not_the_username() -> None:
    assert checked_password("p" * 12, "bob") == "p" * 12
    for bad in ("p" * 11, "p" * 257):
        with pytest.raises(InvalidInputError) as refused:
            checked_password(bad, "bob")
        assert bad not in str(refused.value)
    with pytest.raises(InvalidInputError):
        checked_password("LongUserName1", "longusername1")


def test_key_names() -> None:
    assert checked_key_name("signal feed: prod") == "signal feed: prod"
    for bad in ("", " lead", "x" * 65, "a\nb"):
        with pytest.raises(InvalidInputError):
            checked_key_name(bad)


def test_limit_keys_are_digests_never_the_text() -> None:
    key = limit_key("user", "MyPassword123")
    assert "MyPassword123".lower() not in key.lower()
    assert key == limit_key("user", "mypassword123")  # one counter whatever the case
    assert key != limit_key("address", "mypassword123")
