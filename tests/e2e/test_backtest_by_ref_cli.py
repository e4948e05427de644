"""``backtest run --strategy REF --strategy REF2``: registered examples of two families (a
rotation over three instruments, a pair over two of them) in one portfolio, as a user types it."""

import json
from pathlib import Path

import pytest

from support.console import Cli
from support.registry import EXAMPLES


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    cli = Cli(tmp_path_factory.mktemp("by-ref") / "home")
    cli.ok("data", "synth", "--instruments", "3", "--days", "2", "--bar-spec", "5-MINUTE-LAST")
    for name in ("momentum_rotation", "statistical_arbitrage"):
        assert ": registered" in cli.ok("strategy", "add", EXAMPLES / f"{name}.yaml")
    return cli


def test_two_registered_strategies_run_in_one_portfolio(cli: Cli, tmp_path: Path) -> None:
    output = cli.ok(
        "backtest", "run", "--strategy", "rotation-syn", "--strategy", "pair-syn01-syn02@1",
        "--label", "two families", "--json",
    )  # fmt: skip
    result = json.loads(output)
    run_id = result["run_id"]
    shown = cli.ok("runs", "show", run_id)
    assert "rotation-syn@1" in shown and "pair-syn01-syn02@1" in shown
    request = json.loads((cli.home / "runs" / run_id / "request.json").read_text())
    assert request["strategies"] == ["rotation-syn@1", "pair-syn01-syn02@1"]  # pinned versions
    families = {s["ref"]: s["family"] for s in result["strategies"]}
    assert families == {
        "rotation-syn@1": "momentum_rotation",
        "pair-syn01-syn02@1": "statistical_arbitrage",
    }
    traded = {a["strategy_id"]: a["metrics"]["trade_count"] for a in result["attribution"]}
    assert set(traded) == {s["nautilus_id"] for s in result["strategies"]}
    assert all(count > 0 for count in traded.values()), traded
    listed = cli.ok("runs", "list")
    assert "two families" in listed and "SYN01.SIM, SYN02.SIM, SYN03.SIM" in listed


def test_an_unknown_reference_is_refused_by_name(cli: Cli) -> None:
    refusal = cli.refused("backtest", "run", "--strategy", "rotation-syn", "--strategy", "nothing")
    assert "nothing" in refusal and "not registered" in refusal
