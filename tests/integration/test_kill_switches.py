"""The desk's kill switches: thrown and released through the API and the CLI, logged."""

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quantdesk.bootstrap import bootstrap
from quantdesk.cli.app import EXIT_INVALID, create_cli
from quantdesk.domain.errors import InvalidInputError, NotFoundError
from quantdesk.domain.risk import KillSwitchScope
from quantdesk.services.platform import Platform


def test_throw_status_release_and_log(desk: Platform) -> None:
    risk = desk.risk
    risk.kill(KillSwitchScope.STRATEGY, "EmaCross-A", "runaway", "ana")
    risk.kill(KillSwitchScope.INSTRUMENT, "SYN02.SIM", "bad prints", "bo")
    assert [(s.scope, s.target, s.actor) for s in risk.status()] == [
        (KillSwitchScope.STRATEGY, "EmaCross-A", "ana"),
        (KillSwitchScope.INSTRUMENT, "SYN02.SIM", "bo"),
    ]
    assert risk.halted("EmaCross-A", "SYN01.SIM") is not None
    assert risk.halted("EmaCross-B", "SYN02.SIM") is not None
    assert risk.halted("EmaCross-B", "SYN01.SIM") is None
    risk.kill(KillSwitchScope.PORTFOLIO, "", "fire drill", "ana")
    assert risk.halted("EmaCross-B", "SYN01.SIM") is not None
    risk.release(KillSwitchScope.PORTFOLIO, "", "ana")
    risk.release(KillSwitchScope.STRATEGY, "EmaCross-A", "ana")
    assert [s.target for s in bootstrap(home=desk.home).risk.status()] == ["SYN02.SIM"]
    with sqlite3.connect(desk.home / "quantdesk.db") as sql:  # the log beside the state
        log = [action for (action,) in sql.execute("SELECT action FROM kill_switch_events")]
    assert log == [
        "kill",
        "kill",
        "kill",
        "release",
        "release",
    ]


def test_mistakes_are_named(desk: Platform) -> None:
    with pytest.raises(InvalidInputError, match="no target"):
        desk.risk.kill(KillSwitchScope.PORTFOLIO, "X", "why", "me")
    with pytest.raises(InvalidInputError, match="why"):
        desk.risk.kill(KillSwitchScope.STRATEGY, "X", " ", "me")
    with pytest.raises(NotFoundError, match="no strategy kill switch 'X'") as released:
        desk.risk.release(KillSwitchScope.STRATEGY, "X", "me")
    assert released.value.code == "kill_switch_not_thrown"
    assert released.value.data == {"scope": "strategy", "target": "X"}


@pytest.mark.parametrize(
    ("scope", "target", "reason", "actor", "says"),
    [
        (KillSwitchScope.INSTRUMENT, "SYN01.SIM\n", "bad prints", "bo", "SYMBOL.VENUE"),
        (KillSwitchScope.STRATEGY, "EmaCross-A\x00", "runaway", "ana", "one line"),
        (KillSwitchScope.STRATEGY, "E" * 201, "runaway", "ana", "too long"),
        (KillSwitchScope.PORTFOLIO, "", "fire\x00drill", "ana", "reason"),
        (KillSwitchScope.PORTFOLIO, "", "r" * 2001, "ana", "too long"),
        (KillSwitchScope.PORTFOLIO, "", "fire drill", "a" * 300, "too long"),
        (KillSwitchScope.PORTFOLIO, "", "fire drill", "ana\nbo", "author/actor"),
    ],
)
def test_a_switch_is_kept_only_as_it_can_be_read_back(
    desk: Platform, scope: KillSwitchScope, target: str, reason: str, actor: str, says: str
) -> None:
    """Issue 12: every field of a thrown switch is bounded and one line, before it is stored."""
    with pytest.raises(InvalidInputError, match=says):
        desk.risk.kill(scope, target, reason, actor)
    assert desk.risk.status() == []


def test_cli_kill_release_status(tmp_path: Path) -> None:
    app = create_cli(lambda home: bootstrap(home=home))
    runner = CliRunner()
    home = ["--home", str(tmp_path / "home")]
    thrown = runner.invoke(
        app,
        [
            *home,
            "risk",
            "kill",
            "--instrument",
            "SYN01.SIM",
            "--reason",
            "halt it",
            "--actor",
            "ops",
        ],
    )
    assert thrown.exit_code == 0, thrown.output
    status = runner.invoke(app, [*home, "risk", "status"])
    assert "SYN01.SIM" in status.output and "ops" in status.output
    both = runner.invoke(app, [*home, "risk", "kill", "--all", "--strategy", "S", "--reason", "x"])
    assert both.exit_code == EXIT_INVALID and "exactly one" in both.output
    released = runner.invoke(app, [*home, "risk", "release", "--instrument", "SYN01.SIM"])
    assert released.exit_code == 0
    assert "No kill switch" in runner.invoke(app, [*home, "risk", "status"]).output


def test_a_desk_keeps_the_switches_of_its_older_file(tmp_path: Path) -> None:
    """Issue 14: kill switches moved into the database; a switch thrown in the file a desk
    kept before is still thrown (and released once, for good) after the move."""
    risk = tmp_path / "home" / "risk"
    risk.mkdir(parents=True)
    switch = {
        "scope": "instrument",
        "target": "SYN01.SIM",
        "reason": "bad prints",
        "actor": "bo",
        "thrown_at_ns": 5,
    }
    (risk / "kill_switches.json").write_text(json.dumps([switch]))
    desk = bootstrap(home=tmp_path / "home")
    assert [s.model_dump(mode="json") for s in desk.risk.status()] == [switch]
    assert desk.risk.halted("any", "SYN01.SIM") is not None
    assert not (risk / "kill_switches.json").exists()
    assert (risk / "kill_switches.json.imported").is_file()
    desk.risk.release(KillSwitchScope.INSTRUMENT, "SYN01.SIM", "bo")
    assert bootstrap(home=tmp_path / "home").risk.status() == []


def test_cli_names_the_status_command_for_a_switch_not_thrown(tmp_path: Path) -> None:
    app = create_cli(lambda home: bootstrap(home=home))
    home = ["--home", str(tmp_path / "home")]
    released = CliRunner().invoke(app, [*home, "risk", "release", "--instrument", "SYN01.SIM"])
    assert released.exit_code == EXIT_INVALID
    assert "no instrument kill switch 'SYN01.SIM'" in released.output
    assert "quantdesk risk status" in released.output
