"""All-or-nothing changes to a catalog directory: a small write-ahead journal of renames.

The engine's own ``write_data`` writes a file and only then complains about an overlap, so
quantdesk never writes into the live tree. It stages files in ``.txn/<id>/staged``; the
manifest written last (one atomic rename) is the commit point; applying it is a set of
renames and deletions that ``recover`` repeats after a crash until it has fully happened.
A transaction that never reached its manifest is discarded on the next open.
"""

import contextlib
import fcntl
import json
import os
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from quantdesk.adapters.nautilus.bar_parquet import describe_file
from quantdesk.domain.errors import CatalogError
from quantdesk.domain.market_data import LineageRecord
from quantdesk.services.ports.catalog import StagedCommit

TXN_DIR = ".txn"
MANIFEST = "manifest.json"
LINEAGE_FILE = "lineage.jsonl"
LOCK_FILE = ".lock"


@dataclass(frozen=True)
class Transaction:
    root: Path
    txn_id: str

    @property
    def directory(self) -> Path:
        return self.root / TXN_DIR / self.txn_id

    @property
    def staged(self) -> Path:
        """A catalog root of its own: staged files keep their final relative paths."""
        return self.directory / "staged"


class CatalogJournal:
    def __init__(self, root: Path) -> None:
        self._root = root
        (root / TXN_DIR).mkdir(parents=True, exist_ok=True)
        self._thread_lock = threading.RLock()
        self._depth = 0

    @property
    def lock_path(self) -> Path:
        return self._root / TXN_DIR / LOCK_FILE

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """One writer at a time per catalog, across processes (``flock`` on one lock file).

        Re-entrant within this journal, so an ingest can hold it from reading what exists to
        committing, and the commit inside takes it again without deadlocking on itself.
        """
        with self._thread_lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            with self.lock_path.open("a") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                self._depth = 1
                try:
                    yield
                finally:
                    self._depth = 0
                    fcntl.flock(handle, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def begin(self) -> Iterator[Transaction]:
        """A staging area that disappears unless committed; call under ``locked``."""
        txn = Transaction(self._root, uuid.uuid4().hex)
        txn.staged.mkdir(parents=True)
        try:
            yield txn
        finally:
            if not (txn.directory / MANIFEST).exists():
                shutil.rmtree(txn.directory, ignore_errors=True)

    def commit(
        self,
        txn: Transaction,
        added: list[str],
        removed: list[str],
        lineage_line: str | None,
        lineage_id: str | None,
    ) -> None:
        """Make the staged files visible and the replaced ones gone, with the lineage line."""
        for relative in added:
            if not (txn.staged / relative).is_file():
                raise FileNotFoundError(f"staged file missing: {relative}")
        manifest = {
            "added": added,
            "removed": [r for r in removed if r not in added],
            "lineage": lineage_line,
            "lineage_id": lineage_id,
        }
        partial = txn.directory / (MANIFEST + ".partial")
        with partial.open("w") as handle:
            json.dump(manifest, handle)
            handle.flush()
            os.fsync(handle.fileno())
        partial.replace(txn.directory / MANIFEST)
        fsync_dir(txn.directory)
        self._apply(txn)

    def recover(self) -> list[str]:
        """Finish committed transactions and discard the rest; returns the ids finished."""
        finished = []
        with self.locked():
            for directory in sorted((self._root / TXN_DIR).iterdir()):
                if not directory.is_dir():
                    continue
                txn = Transaction(self._root, directory.name)
                if (directory / MANIFEST).exists():
                    self._apply(txn)
                    finished.append(txn.txn_id)
                else:
                    shutil.rmtree(directory, ignore_errors=True)
        return finished

    def _apply(self, txn: Transaction) -> None:
        """Idempotent: every step checks whether it already happened."""
        manifest = json.loads((txn.directory / MANIFEST).read_text())
        for relative in manifest["added"]:
            staged, final = txn.staged / relative, self._root / relative
            if staged.exists():
                final.parent.mkdir(parents=True, exist_ok=True)
                staged.replace(final)
        for relative in manifest["removed"]:
            (self._root / relative).unlink(missing_ok=True)
        if manifest["lineage"] is not None:
            self._append_lineage(manifest["lineage"], manifest["lineage_id"])
        shutil.rmtree(txn.directory, ignore_errors=True)

    def _append_lineage(self, line: str, lineage_id: str) -> None:
        path = self._root / LINEAGE_FILE
        marker = f'"ingest_id":"{lineage_id}"'
        if path.exists():
            with path.open() as handle:
                if any(marker in existing for existing in handle):
                    return
        with path.open("a") as handle:
            handle.write(line.rstrip("\n") + "\n")
            handle.flush()
            os.fsync(handle.fileno())


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries, so a rename or a new file in it survives a crash."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def commit_staged(
    journal: CatalogJournal,
    txn: Transaction,
    series: str,
    rows: int,
    replaced: list[str],
    lineage: Callable[[StagedCommit], LineageRecord],
) -> StagedCommit:
    """Every file staged in ``txn`` visible, the ``replaced`` ones gone and the lineage
    record written, as one change; refused, with nothing written, unless the staged files
    hold exactly ``rows`` rows (what the stager counted it wrote)."""
    added = [
        describe_file(path, path.relative_to(txn.staged))
        for path in sorted(txn.staged.rglob("*.parquet"))
    ]
    if sum(f.rows for f in added) != rows:
        raise CatalogError(
            f"staged {sum(f.rows for f in added)} rows for {series}, expected {rows}; "
            "nothing was written"
        )
    commit = StagedCommit(files_added=added, files_replaced=replaced)
    record = lineage(commit)
    journal.commit(
        txn, [f.path for f in added], replaced, record.model_dump_json(), record.ingest_id
    )
    return commit
