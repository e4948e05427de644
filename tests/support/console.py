"""The ``quantdesk`` CLI as the e2e tests drive it: the installed script in a subprocess, or
the app in process."""

import os
import shutil
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from quantdesk.bootstrap import bootstrap
from quantdesk.cli.app import EXIT_INVALID, create_cli


def executable() -> str:
    """The script beside this interpreter (the venv's), else on PATH; a failure says how."""
    beside = Path(sys.executable).parent / "quantdesk"
    if beside.is_file():
        return str(beside)
    found = shutil.which("quantdesk")
    if found is None:
        pytest.fail("the quantdesk console script is not installed (pip install -e .)")
    return found


def script_env() -> dict[str, str]:
    """This environment with a wide terminal, no colours and no QUANTDESK_HOME of its own."""
    env = {**os.environ, "COLUMNS": "200"}
    for name in ("FORCE_COLOR", "QUANTDESK_HOME"):
        env.pop(name, None)
    return env


class Cli:
    """The CLI in process (``CliRunner``) on one home, as a user types it."""

    def __init__(self, home: Path, columns: int = 200) -> None:
        self.home = home
        self.columns = columns
        self.app = create_cli(lambda home: bootstrap(home=home))

    def __call__(self, *args: str | Path) -> Result:
        return CliRunner().invoke(
            self.app,
            ["--home", str(self.home), *map(str, args)],
            env={"COLUMNS": str(self.columns)},
        )

    def ok(self, *args: str | Path) -> str:
        result = self(*args)
        assert result.exit_code == 0, result.output
        return result.output

    def stdout(self, *args: str | Path) -> str:
        """What a succeeding command wrote to stdout alone: its ``--json`` document, never
        mixed with the progress bars on stderr (they show when a step takes long enough)."""
        result = self(*args)
        assert result.exit_code == 0, result.output
        return result.stdout

    def refused(self, *args: str | Path) -> str:
        """The one-line error of a refused command (exit 2), whitespace folded."""
        result = self(*args)
        assert result.exit_code == EXIT_INVALID, result.output
        assert "Traceback" not in result.output
        return " ".join(result.output.split())
