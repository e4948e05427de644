"""What a catalog directory holds and what an ingest rejected, read back for assertions."""

import csv
import hashlib
from pathlib import Path


def snapshot(root: Path) -> dict[str, str]:
    """Every file under the catalog with its checksum (the .txn lock file aside)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def read_rejects(path: str | None) -> list[dict[str, str]]:
    assert path is not None
    with Path(path).open(newline="") as handle:
        return list(csv.DictReader(handle))
