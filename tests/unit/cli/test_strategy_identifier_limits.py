"""Strategy commands with identifiers and versions no database row can hold: exit 2, clean.

Issue 12: ``strategy show id@99999999999999999999999`` ended in a traceback (integer
overflow in the database), and ``strategy_id: "trend-btc\\n"`` registered a second strategy.
"""

from pathlib import Path

import yaml
from typer.testing import CliRunner

from quantdesk.bootstrap import bootstrap
from quantdesk.cli.app import EXIT_INVALID, create_cli

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "strategies" / "trend_following.yaml"


def run(tmp_path: Path, *args: str) -> tuple[int, str]:
    app = create_cli(lambda home: bootstrap(home=home))
    result = CliRunner().invoke(app, ["--home", str(tmp_path / "home"), *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, " ".join(result.output.split())


def test_a_version_past_the_column_is_a_clear_error(tmp_path: Path) -> None:
    code, output = run(tmp_path, "strategy", "add", str(EXAMPLE), "--author", "alice")
    assert code == 0, output
    strategy_id = yaml.safe_load(EXAMPLE.read_text())["strategy_id"]
    code, output = run(tmp_path, "strategy", "show", f"{strategy_id}@99999999999999999999999")
    assert code == EXIT_INVALID, output
    assert "not a version number: 1 to 2147483647" in output
    assert "Traceback" not in output


def test_a_trailing_newline_does_not_make_a_second_strategy(tmp_path: Path) -> None:
    document = yaml.safe_load(EXAMPLE.read_text())
    code, output = run(tmp_path, "strategy", "add", str(EXAMPLE), "--author", "alice")
    assert code == 0, output
    twin = tmp_path / "twin.yaml"
    twin.write_text(yaml.safe_dump({**document, "strategy_id": document["strategy_id"] + "\n"}))
    code, output = run(tmp_path, "strategy", "add", str(twin), "--author", "alice")
    assert code == EXIT_INVALID, output
    assert "is not a slug" in output
    code, output = run(tmp_path, "strategy", "list")
    assert output.count(document["strategy_id"]) == 1, output
