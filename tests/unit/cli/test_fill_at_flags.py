"""``backtest run --fill-at`` and ``--commission-per-unit`` reach the venue of the request, and
a bad value is named by its flag (exit 2, never a traceback)."""

import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quantdesk.bootstrap import bootstrap
from quantdesk.cli.app import EXIT_INVALID, create_cli
from quantdesk.services.synthetic import SyntheticMarketConfig

BASE = ["backtest", "run", "--strategy", "ema_cross", "--instrument", "SYN01.SIM"]


def run(tmp_path: Path, *args: str) -> tuple[int, str, BaseException | None]:
    app = create_cli(lambda home: bootstrap(home=home))
    result = CliRunner().invoke(app, ["--home", str(tmp_path / "home"), *BASE, *args])
    return result.exit_code, " ".join(result.output.split()), result.exception


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--fill-at", "tomorrow"], "--fill-at"),
        (["--commission-per-unit", "-0.01"], "--commission-per-unit: -0.01"),
        (["--commission-per-unit", "0"], "--commission-per-unit: 0"),
        (["--commission-per-unit", "cheap"], "--commission-per-unit"),
    ],
)
def test_bad_fill_options_are_named_by_their_flag(
    tmp_path: Path, args: list[str], named: str
) -> None:
    code, output, exception = run(tmp_path, *args)
    assert code == EXIT_INVALID
    assert named in output
    assert isinstance(exception, SystemExit)


def test_fill_options_reach_the_venue(tmp_path: Path) -> None:
    bootstrap(home=tmp_path / "home").synthetic.synthesize(
        SyntheticMarketConfig(instruments=1, days=1, seed=3)
    )
    code, output, _ = run(
        tmp_path, "--fill-at", "next_open", "--commission-per-unit", "0.01", "--json"
    )
    assert code == 0, output
    (venue,) = json.loads(output)["request"]["venues"]
    assert venue["fill_at"] == "next_open" and Decimal(venue["commission_per_unit"]) == Decimal(
        "0.01"
    )
