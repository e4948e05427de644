"""The migration revisions the package ships, read from its versions folder (not hard-coded:
every feature adds one)."""

from pathlib import Path

from quantdesk.adapters.storage import migrations

VERSIONS = Path(migrations.__file__).parent / "versions"
REVISIONS = sorted(path.stem[1:5] for path in VERSIONS.glob("v[0-9][0-9][0-9][0-9]_*.py"))
HEAD = REVISIONS[-1]
