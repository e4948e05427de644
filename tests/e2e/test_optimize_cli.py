"""``quantdesk optimize`` as a user types it (in process): a grid study on a tiny synthetic
market, its best trial re-run and reproduced, ``--register`` making a version whose reason
names the study, the same command resuming; refusals by line and by code, with the CLI's
hints."""

import json
from pathlib import Path

import pytest

from quantdesk.bootstrap import bootstrap
from support.console import Cli
from support.registry import EXAMPLES

SPACES = EXAMPLES.parents[1] / "examples" / "optimisation"


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    for name in ("QUANTDESK_DATABASE_URL", "QUANTDESK_SWEEP_WORKERS", "QUANTDESK_RAY_ADDRESS"):
        monkeypatch.delenv(name, raising=False)
    cli = Cli(tmp_path / "home")
    cli.ok("data", "synth", "--instruments", "1", "--days", "2", "--seed", "7")
    cli.ok("strategy", "add", EXAMPLES / "trend_following.yaml")
    return cli


def test_a_grid_study_registers_its_best_and_resumes(cli: Cli, tmp_path: Path) -> None:
    space = tmp_path / "space.yaml"
    space.write_text(
        "parameters:\n  fast_period: {low: 5, high: 10, step: 5}\n"
        "  slow_period: {low: 30, high: 60, step: 30}\n"
    )
    args = ("optimize", "trend-syn01@1", "--space", space, "--sampler", "grid", "--seed", "1")
    output = cli.ok(*args, "--trials", "3", "--top", "1", "--study", "grid-a", "--register")
    assert "study grid-a: trend-syn01@1, sharpe by grid (seed 1); 3 trials" in output
    assert "reproduced" in output and "DIFFERS" not in output
    assert "registered trend-syn01@2 from the best trial" in output
    assert (cli.home / "studies" / "grid-a" / "report.json").is_file()
    html = (cli.home / "studies" / "grid-a" / "report.html").read_text()
    assert "grid-a" in html and "trend-syn01@2" in html
    version = bootstrap(home=cli.home).registry.get("trend-syn01", 2).definition
    assert version.reason.startswith("optimisation study grid-a: best trial #")
    # the same command again continues the study: the grid's last point, nothing repeated
    report = json.loads(
        cli.stdout(*args, "--trials", "9", "--top", "0", "--study", "grid-a", "--json")
    )
    assert report["resumed"] is True
    points = [(t["params"]["fast_period"], t["params"]["slow_period"]) for t in report["trials"]]
    assert sorted(points) == [(5, 30), (5, 60), (10, 30), (10, 60)]  # 4 points, each once


def test_refusals_name_the_line_or_the_flag(cli: Cli, tmp_path: Path) -> None:
    space = tmp_path / "bad.yaml"
    space.write_text("parameters:\n  fast_period: {low: 5, high: 10}\n  trade_size: {low: 1}\n")
    refused = cli.refused("optimize", "trend-syn01@1", "--space", space)
    assert "bad.yaml line 3: parameters.trade_size: not a tunable parameter" in refused
    refused = cli.refused(
        "optimize", "trend-syn01@1", "--space", SPACES / "trend_grid.yaml", "--objective", "custom"
    )
    assert "the custom objective needs weights" in refused and "hint: give objective:" in refused
    refused = cli.refused("optimize", "trend-syn01@1", "--objective", "profit")
    assert "'profit' is not an objective" in refused and "--objective sharpe|" in refused
    refused = cli.refused("optimize", "trend-syn01@1", "--study", "no spaces please")
    assert "is not a study name" in refused and "--study" in refused


def test_the_screen_ranks_the_grid_and_its_leaders_are_confirmed(cli: Cli, tmp_path: Path) -> None:
    source = (EXAMPLES / "trend_following.yaml").read_text()
    assert "  atr_stop_multiple: 3.0\n" in source
    no_stop = tmp_path / "no-stop.yaml"
    no_stop.write_text(source.replace("  atr_stop_multiple: 3.0\n", ""))
    cli.ok("strategy", "update", no_stop)
    grid = SPACES / "trend_grid.yaml"
    # the ATR stop is not a function of the closes: the screen refuses it, naming it
    refused = cli.refused("optimize", "trend-syn01@1", "--space", grid, "--screen")
    assert "atr_stop_multiple" in refused
    output = cli.ok(
        "optimize", "trend-syn01@2", "--space", grid, "--screen", "--trials", "2", "--top", "1"
    )
    assert "screen: 40 grid points ranked in" in output
    assert "the best 2 confirmed event-driven" in output and "reproduced" in output
