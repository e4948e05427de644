"""``quantdesk audit verify`` as a user types it: every break named, exit 4; the keyed mode."""

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from quantdesk.bootstrap import bootstrap
from quantdesk.cli.app import EXIT_INVALID, create_cli
from quantdesk.cli.strategies import EXIT_AUDIT_BROKEN
from support.registry import EXAMPLES

SECRET = "correct horse battery staple 42"


@pytest.fixture(autouse=True)
def no_outside_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("QUANTDESK_DATABASE_URL", "QUANTDESK_AUDIT_KEY", "QUANTDESK_AUDIT_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)


def run(home: Path, *args: str | Path) -> Result:
    app = create_cli(lambda home: bootstrap(home=home))
    return CliRunner().invoke(app, ["--home", str(home), *map(str, args)], env={"COLUMNS": "200"})


def registered(home: Path) -> None:
    for args in (
        ("strategy", "add", EXAMPLES / "trend_following.yaml"),
        ("strategy", "tag", "trend-syn01@1", "paper"),
    ):
        assert run(home, *args).exit_code == 0


def test_verify_names_every_break_and_exits_4(tmp_path: Path) -> None:
    home = tmp_path / "home"
    registered(home)
    assert "every link holds" in run(home, "audit", "verify").output
    with sqlite3.connect(home / "quantdesk.db") as sql:
        sql.execute(
            "UPDATE strategy_versions SET content = "
            'REPLACE(content, \'"trade_size":"100"\', \'"trade_size":"200"\')'
        )
        sql.execute("UPDATE strategy_tags SET actor = 'mallory'")
    result = run(home, "audit", "verify")
    assert result.exit_code == EXIT_AUDIT_BROKEN
    assert "audit log broken: 2 break(s) (2 events, 0 run anchors, unkeyed" in result.output
    assert "version trend-syn01@1: content hashes to " in result.output
    assert "tag trend-syn01@paper: actor stored 'mallory', logged " in result.output


def test_a_keyed_log_rejects_a_reseal_and_never_prints_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, key_file = tmp_path / "home", tmp_path / "audit.key"
    key_file.write_text(SECRET + "\n")
    monkeypatch.setenv("QUANTDESK_AUDIT_KEY_FILE", str(key_file))
    registered(home)
    verified = run(home, "audit", "verify")
    assert "2 events, 0 run anchors, keyed; every link holds" in verified.output
    with sqlite3.connect(home / "quantdesk.db") as sql:
        sql.execute("UPDATE audit_events SET mac = NULL WHERE seq = 2")
    result = run(home, "audit", "verify")
    assert result.exit_code == EXIT_AUDIT_BROKEN
    assert "audit event 2: carries no seal of the audit key" in result.output
    assert SECRET not in result.output and SECRET not in verified.output


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("QUANTDESK_AUDIT_KEY", "short", "the audit key is too short (5 bytes)"),
        ("QUANTDESK_AUDIT_KEY_FILE", "/nonexistent/audit.key", "cannot read the audit key file"),
    ],
)
def test_a_bad_key_setting_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str, value: str, message: str
) -> None:
    monkeypatch.setenv(setting, value)
    result = run(tmp_path / "home", "audit", "verify")
    assert result.exit_code == EXIT_INVALID
    assert message in result.output and "Traceback" not in result.output
    assert "short" not in result.output.replace("too short", "")


def test_both_key_settings_at_once_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = tmp_path / "k"
    key_file.write_text(SECRET)
    monkeypatch.setenv("QUANTDESK_AUDIT_KEY", SECRET)
    monkeypatch.setenv("QUANTDESK_AUDIT_KEY_FILE", str(key_file))
    result = run(tmp_path / "home", "audit", "verify")
    assert result.exit_code == EXIT_INVALID and "set one of them" in result.output
    assert SECRET not in result.output
