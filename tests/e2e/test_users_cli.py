"""``quantdesk users`` and ``quantdesk apikey`` as an operator types them: a generated
password or key is printed once, alone on stdout; nothing secret reaches the audit log."""

import stat
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from quantdesk.adapters.storage.audit_log import SqlAuditLog
from quantdesk.adapters.storage.database import Database, sqlite_url
from quantdesk.bootstrap import bootstrap
from quantdesk.cli.app import EXIT_INVALID, create_cli
from quantdesk.domain.errors import AuthenticationError
from quantdesk.services.platform import Platform
from support.console import executable, script_env

CHOSEN = "a chosen long password"


@pytest.fixture(autouse=True)
def no_outside_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("QUANTDESK_DATABASE_URL", "QUANTDESK_AUDIT_KEY", "QUANTDESK_TOKEN_SECRET_FILE"):
        monkeypatch.delenv(name, raising=False)


def desk(home: Path | None) -> Platform:
    """The desk as the ``quantdesk`` script builds it."""
    return bootstrap(home=home)


def run(home: Path, *args: str, stdin: str | None = None) -> Result:
    app = create_cli(desk)
    return CliRunner().invoke(
        app, ["--home", str(home), *args], input=stdin, env={"COLUMNS": "200"}
    )


def ok(home: Path, *args: str, stdin: str | None = None) -> Result:
    result = run(home, *args, stdin=stdin)
    assert result.exit_code == 0, result.output
    return result


def login(home: Path, username: str, password: str) -> str:
    return desk(home).service.auth.login(username, password, address="cli-test").access_token


def audit_text(home: Path) -> str:
    database = Database(sqlite_url(home / "quantdesk.db"))
    try:
        return "\n".join(repr(event) for event in SqlAuditLog(database).events())
    finally:
        database.dispose()


def test_a_generated_password_is_printed_once_alone_on_stdout(tmp_path: Path) -> None:
    home = tmp_path / "home"
    added = ok(home, "users", "add", "bob", "--role", "researcher")
    password = added.stdout.strip()
    assert len(password) >= 20 and "\n" not in password
    assert password not in added.stderr and "added: bob (researcher)" in added.stderr
    assert login(home, "bob", password)
    listed = ok(home, "users", "list").stdout
    assert "bob" in listed and "researcher" in listed and password not in listed
    assert password not in audit_text(home) and "user_added" in audit_text(home)
    secret = home / "secrets" / "token-secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600


def test_a_chosen_password_comes_from_stdin_and_is_never_printed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    added = ok(home, "users", "add", "carol", "--password-stdin", stdin=CHOSEN + "\n")
    assert CHOSEN not in added.output and added.stdout == ""
    assert login(home, "carol", CHOSEN)
    short = run(home, "users", "add", "dave", "--password-stdin", stdin="short\n")
    assert short.exit_code == EXIT_INVALID and "short" not in short.output.replace("--", "")


def test_role_disable_and_reset(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ok(home, "users", "add", "erin", "--password-stdin", stdin=CHOSEN + "\n")
    assert "erin: trader" in ok(home, "users", "set-role", "erin", "trader").stdout
    reset = ok(home, "users", "reset-password", "erin")
    fresh = reset.stdout.strip()
    with pytest.raises(AuthenticationError):
        login(home, "erin", CHOSEN)
    assert login(home, "erin", fresh)
    ok(home, "users", "disable", "erin")
    assert "disabled" in ok(home, "users", "list").stdout
    with pytest.raises(AuthenticationError):
        login(home, "erin", fresh)
    ok(home, "users", "enable", "erin")
    assert login(home, "erin", fresh)
    text = audit_text(home)
    assert fresh not in text and CHOSEN not in text
    assert all(a in text for a in ("user_role_set", "user_password_reset", "user_disabled"))


def test_an_api_key_is_shown_once_scoped_and_revocable(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ok(home, "users", "add", "feed", "--role", "researcher")
    created = ok(
        home,
        "apikey",
        "create",
        "signal feed",
        "--role",
        "viewer",
        "--owner",
        "feed",
        "--expires-days",
        "30",
    )
    key = created.stdout.strip()
    assert key.startswith("qdk_") and key not in created.stderr
    principal = desk(home).service.auth.authenticate(key)
    assert (principal.username, principal.role.value, principal.via) == (
        "feed",
        "viewer",
        "api_key",
    )
    listed = ok(home, "apikey", "list").stdout
    secret = key.removeprefix(f"qdk_{principal.key_id}_")
    assert principal.key_id is not None and principal.key_id in listed
    assert secret not in listed and "active" in listed and "signal feed" in listed
    ok(home, "apikey", "revoke", principal.key_id)
    assert "revoked" in ok(home, "apikey", "list").stdout
    with pytest.raises(AuthenticationError):
        desk(home).service.auth.authenticate(key)
    assert secret not in audit_text(home) and "api_key_revoked" in audit_text(home)


def test_refusals_are_one_line_without_a_traceback(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ok(home, "users", "add", "gail")
    cases = [
        ("users", "add", "gail"),  # taken
        ("users", "add", "Not Valid"),
        ("users", "disable", "nobody"),
        ("apikey", "create", "k", "--role", "admin", "--owner", "gail"),  # above its owner
        ("apikey", "revoke", "0000000000000000"),
        ("apikey", "create", "k"),  # the default owner admin does not exist on this desk
    ]
    for args in cases:
        result = run(home, *args)
        assert result.exit_code == EXIT_INVALID, (args, result.output)
        assert "Traceback" not in result.output and result.stdout == ""
    assert run(home, "users", "add", "hal", "--role", "root").exit_code == 2  # not a role


def test_the_installed_script_prints_the_key_alone_on_stdout(tmp_path: Path) -> None:
    home = tmp_path / "home"
    command = [executable(), "--home", str(home)]
    added = subprocess.run(
        [*command, "users", "add", "ivy", "--role", "trader"],
        capture_output=True,
        text=True,
        env=script_env(),
        timeout=120,
        check=False,
    )
    assert added.returncode == 0, added.stderr
    password = added.stdout.strip()
    assert len(added.stdout.splitlines()) == 1 and password not in added.stderr
    created = subprocess.run(
        [*command, "apikey", "create", "bot", "--role", "trader", "--owner", "ivy"],
        capture_output=True,
        text=True,
        env=script_env(),
        timeout=120,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("qdk_") and key not in created.stderr
    assert desk(home).service.auth.authenticate(key).role.value == "trader"
    assert login(home, "ivy", password)
