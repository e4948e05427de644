"""Venue flags of ``backtest run`` are validated with the request: a named error, exit 2,
never a traceback (in process; the e2e tests run the installed script)."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from quantdesk.bootstrap import bootstrap
from quantdesk.cli.app import EXIT_INVALID, create_cli

BASE = ["backtest", "run", "--strategy", "ema_cross", "--instrument", "SYN01.SIM"]


def run(tmp_path: Path, *args: str) -> tuple[int, str, BaseException | None]:
    app = create_cli(lambda home: bootstrap(home=home))
    result = CliRunner().invoke(app, ["--home", str(tmp_path / "home"), *BASE, *args])
    return result.exit_code, " ".join(result.output.split()), result.exception


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--taker-fee", "-0.5"], "--taker-fee: -0.5"),
        (["--taker-fee", "50"], "--taker-fee: 50"),
        (["--maker-fee", "0.2"], "--maker-fee: 0.2"),
        (["--leverage", "abc"], "--leverage abc"),
        (["--bar-spread", "-0.01"], "--bar-spread: -0.01"),
    ],
)
def test_bad_venue_values_are_named_by_their_flag(
    tmp_path: Path, args: list[str], named: str
) -> None:
    code, output, exception = run(tmp_path, *args)
    assert code == EXIT_INVALID
    assert named in output
    assert isinstance(exception, SystemExit)  # rendered, not raised
