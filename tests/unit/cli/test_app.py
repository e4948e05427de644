"""The CLI's error rendering, in process (the e2e tests run the installed script)."""

from pathlib import Path

from typer.testing import CliRunner

from quantdesk.bootstrap import bootstrap
from quantdesk.cli.app import EXIT_INVALID, create_cli


def run(tmp_path: Path, *args: str) -> tuple[int, str]:
    app = create_cli(lambda home: bootstrap(home=home))
    result = CliRunner().invoke(app, ["--home", str(tmp_path / "home"), *args])
    return result.exit_code, result.output


def test_messages_are_printed_verbatim_not_as_markup(tmp_path: Path) -> None:
    code, output = run(tmp_path, "data", "ingest", "bars", "x.csv", "--instrument", "[/]A.[b]B")
    assert code == EXIT_INVALID
    assert "'[/]A.[b]B'" in output


def test_file_and_flags_together_are_refused(tmp_path: Path) -> None:
    code, output = run(tmp_path, "instruments", "add", "x.yaml", "--id", "A.B")
    assert code == EXIT_INVALID
    assert "not both" in output


def test_missing_flags_are_named(tmp_path: Path) -> None:
    code, output = run(tmp_path, "instruments", "add", "--id", "A.B", "--currency", "USD")
    assert code == EXIT_INVALID
    assert "--asset-class" in output and "--tick-size" in output
