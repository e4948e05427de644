"""The desk's kill switches: thrown and released through the API and the CLI, logged."""

import json
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
    log = (desk.home / "risk" / "kill_switches.log.jsonl").read_text().splitlines()
    assert [json.loads(line)["action"] for line in log] == [
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
    with pytest.raises(NotFoundError, match="risk status"):
        desk.risk.release(KillSwitchScope.STRATEGY, "X", "me")


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
