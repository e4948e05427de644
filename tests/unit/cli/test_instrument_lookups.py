"""An instrument id a user names in a lookup is checked before it becomes a catalog path.

Issue 12 (fuzz finding): a 300-character ``--instrument`` reached the file system and came
back as "home unusable: file name too long"; a newline-bearing id could name another file.
"""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from quantdesk.bootstrap import bootstrap
from quantdesk.cli.app import EXIT_INVALID, create_cli

LONG = "A" * 300 + ".SIM"


def run(home: Path, *args: str) -> tuple[int, str]:
    app = create_cli(lambda h: bootstrap(home=h))
    result = CliRunner().invoke(app, ["--home", str(home), *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, " ".join(result.output.split())


@pytest.mark.parametrize("instrument", [LONG, "ACME.SIM\n", "../../etc.SIM"])
@pytest.mark.parametrize("command", [["signals", "list"], ["instruments", "show"]])
def test_a_lookup_by_an_impossible_id_is_refused_by_name(
    tmp_path: Path, command: list[str], instrument: str
) -> None:
    args = [*command, instrument] if command[0] == "instruments" else [*command, "--instrument"]
    if command[0] == "signals":
        args.append(instrument)
    code, output = run(tmp_path / "home", *args)
    assert code == EXIT_INVALID, output
    assert "is not of the form SYMBOL.VENUE" in output
    assert "unusable" not in output


def test_ingest_for_an_impossible_id_is_refused_by_name(tmp_path: Path) -> None:
    bars = tmp_path / "bars.csv"
    bars.write_text("timestamp,open,high,low,close,volume\n2024-01-01T00:01:00Z,1,1,1,1,1\n")
    code, output = run(tmp_path / "home", "data", "ingest", "bars", str(bars), "--instrument", LONG)
    assert code == EXIT_INVALID, output
    assert "is not of the form SYMBOL.VENUE" in output
    assert not (tmp_path / "home" / "catalog" / "data").exists()


@pytest.mark.parametrize("source", ["/dev/zero", "."])
@pytest.mark.parametrize(
    "command", [["signals", "ingest"], ["data", "ingest", "bars", "--instrument", "ACME.SIM"]]
)
def test_a_device_or_a_directory_is_named_as_not_a_file(
    tmp_path: Path, command: list[str], source: str
) -> None:
    flags = ["--id", "ACME.SIM", "--asset-class", "equity", "--currency", "USD"]
    assert run(tmp_path / "home", "instruments", "add", *flags, "--tick-size", "0.01")[0] == 0
    code, output = run(tmp_path / "home", *command[:3], source, *command[3:])
    assert code == EXIT_INVALID, output
    assert "is not a regular file" in output
