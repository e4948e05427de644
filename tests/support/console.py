"""The installed ``quantdesk`` console script, as the e2e tests run it in a subprocess."""

import os
import shutil
import sys
from pathlib import Path

import pytest


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
