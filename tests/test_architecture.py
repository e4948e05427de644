"""The rings of DESIGN.md hold: import-linter contracts, and a few house rules."""

import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "quantdesk"


def test_import_linter_contracts_are_kept() -> None:
    linter = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(linter), "--no-cache"],
        capture_output=True,
        text=True,
        cwd=SRC.parents[1],
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_no_grab_bag_modules() -> None:
    names = {p.stem for p in SRC.rglob("*.py")}
    assert not names & {"utils", "helpers", "misc", "common"}


def test_no_import_time_settings_or_singletons() -> None:
    """Settings are read once, in bootstrap; nothing else instantiates them."""
    offenders = [
        str(p.relative_to(SRC))
        for p in SRC.rglob("*.py")
        if "QuantdeskSettings(" in p.read_text() and p.name not in {"bootstrap.py", "settings.py"}
    ]
    assert offenders == []
