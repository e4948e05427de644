"""``quantdesk strategy validate`` and the outcome in ``strategy show``/``history``."""

import json
from pathlib import Path

import pytest

from quantdesk.bootstrap import bootstrap
from quantdesk.cli.strategy_validation import EXIT_NOT_VALID
from quantdesk.services.synthetic import SyntheticMarketConfig
from support.console import Cli
from support.registry import EXAMPLES


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.delenv("QUANTDESK_DATABASE_URL", raising=False)
    monkeypatch.setenv("QUANTDESK_VALIDATION_SMOKE", "false")  # validate runs it when asked
    home = tmp_path / "home"
    bootstrap(home=home).synthetic.synthesize(SyntheticMarketConfig(instruments=2, days=3, seed=4))
    return Cli(home)


def test_validate_passes_a_good_version_and_shows_it(cli: Cli) -> None:
    cli.ok("strategy", "add", EXAMPLES / "trend_following.yaml")
    assert "trend-syn01@1: validated ok, smoke run" in cli.ok("strategy", "validate", "trend-syn01")
    assert "# validation: validated ok at " in cli.ok("strategy", "show", "trend-syn01@1")
    assert "ok" in cli.ok("strategy", "history", "trend-syn01").splitlines()[-2]
    shown = json.loads(cli.stdout("strategy", "show", "trend-syn01", "--json"))
    assert shown["validation"]["ok"] is True


def test_validate_names_every_problem_and_exits_not_valid(cli: Cli, tmp_path: Path) -> None:
    text = (EXAMPLES / "trend_following.yaml").read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        text.replace("[SYN01.SIM]", "[SYN01.SIM, NOPE.SIM]")
        .replace("1-MINUTE-LAST", "5-MINUTE-LAST")
        .replace('max_position: "100"', 'max_position: "10"\n  allow_reduce: false')
    )
    cli.ok("strategy", "add", bad)
    result = cli("strategy", "validate", "trend-syn01@1")
    assert result.exit_code == EXIT_NOT_VALID, result.output
    assert "trend-syn01@1: not valid, 3 problem(s)" in result.output
    assert "data: instrument NOPE.SIM is not in the catalog" in result.output
    assert "data: no 5-MINUTE-LAST bars of SYN01.SIM" in result.output
    assert "risk: risk.max_position 10 is below the trade size 100" in result.output
    assert "skipped smoke: not run: the data check failed" in result.output
    assert "failed at " in cli.ok("strategy", "show", "trend-syn01")
    assert "failed (3)" in cli.ok("strategy", "history", "trend-syn01")


def test_validate_of_an_unknown_strategy_is_invalid_input(cli: Cli) -> None:
    result = cli("strategy", "validate", "nope")
    assert result.exit_code == 2, result.output
    assert "strategy nope is not registered" in result.output
