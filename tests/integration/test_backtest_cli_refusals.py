"""``backtest run`` shows what the engine refused, in process on a real engine: a table by
reason, a warning, exit 0 while some orders filled, exit 2 with the fix when none did."""

from pathlib import Path

from typer.testing import CliRunner

from quantdesk.bootstrap import bootstrap
from quantdesk.cli.app import EXIT_INVALID, create_cli
from quantdesk.services.synthetic import SyntheticMarketConfig

BASE = ["backtest", "run", "--strategy", "ema_cross", "--instrument", "SYN01.SIM"]


def run(home: Path, *args: str) -> tuple[int, str]:
    app = create_cli(lambda h: bootstrap(home=h))
    result = CliRunner().invoke(app, ["--home", str(home), *BASE, *args], env={"COLUMNS": "250"})
    return result.exit_code, " ".join(result.output.split())


def test_refusals_are_shown_and_a_run_refused_whole_fails(tmp_path: Path) -> None:
    home = tmp_path / "home"
    bootstrap(home=home).synthetic.synthesize(SyntheticMarketConfig(instruments=1, days=1, seed=3))
    small = ["--balance", "10000", "--param", "trade_size=420"]
    code, output = run(home, *small, "--leverage", "5")
    assert code == 0
    assert "Orders refused by the engine" in output and "INSUFFICIENT_MARGIN" in output
    assert "warning: the engine refused" in output
    code, output = run(home, *small)  # leverage 1: ~50,000 of orders on 10,000
    assert code == EXIT_INVALID
    assert "the engine refused every order of the run" in output
    assert "hint:" in output and "leverage" in output


def test_a_shorthand_registers_its_version_only_when_the_run_succeeds(tmp_path: Path) -> None:
    """A refused run (here: every order refused by the engine) leaves the registry as it was;
    a successful one registers the version it ran, and running it again finds that version."""
    home = tmp_path / "home"
    desk = bootstrap(home=home)
    desk.synthetic.synthesize(SyntheticMarketConfig(instruments=1, days=1, seed=3))
    code, _ = run(home, "--balance", "10000", "--param", "trade_size=420")
    assert code == EXIT_INVALID
    assert desk.registry.list() == []
    code, output = run(home, "--param", "fast=5", "--param", "slow=20")
    assert code == 0 and "shorthand: ran ema_cross-syn01@1 (registered)" in output
    assert [v.ref for v in desk.registry.list()] == ["ema_cross-syn01@1"]
    code, output = run(home, "--param", "fast=5", "--param", "slow=20")
    assert code == 0 and "ran ema_cross-syn01@1" in output  # unchanged: the same version
    code, output = run(home, "--param", "fast=6", "--param", "slow=20")
    assert code == 0 and "ran ema_cross-syn01@2" in output  # changed: a new version
    assert [v.ref for v in desk.registry.history("ema_cross-syn01")] == [
        "ema_cross-syn01@1",
        "ema_cross-syn01@2",
    ]
