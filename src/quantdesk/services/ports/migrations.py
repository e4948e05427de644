"""Where table migrations keep their runs, checkpoints and rejected rows (issue 16)."""

from collections.abc import Sequence
from typing import Protocol

from quantdesk.domain.market_data import Rejection
from quantdesk.domain.migration import (
    ChunkCheckpoint,
    ChunkRecord,
    MigrationCheckpoint,
    MigrationRun,
)


class MigrationStore(Protocol):
    def checkpoint(self, mapping_name: str) -> MigrationCheckpoint | None:
        """Where the mapping's migration stands; None before its first committed chunk. Its
        watermark comes back to the microsecond (naive stays naive, an epoch an integer)."""
        ...

    def days(self, mapping_name: str) -> dict[int, int]:
        """Rows read per source day by the mapping's committed chunks."""
        ...

    def save_run(self, run: MigrationRun) -> None:
        """Insert or replace a run's record."""
        ...

    def save_chunk(self, run: MigrationRun, chunk: ChunkCheckpoint) -> None:
        """One transaction: the run's counts, the chunk, its rejects, the checkpoint, days."""
        ...

    def set_days(self, mapping_name: str, days: dict[int, int]) -> None:
        """Replace the counts of these source days (after a day was re-migrated)."""
        ...

    def run(self, migration_id: str) -> MigrationRun | None: ...

    def runs(self, mapping_name: str | None = None, *, limit: int = 100) -> Sequence[MigrationRun]:
        """Newest first (by start; runs started at the same instant by id)."""
        ...

    def chunks(self, migration_id: str) -> Sequence[ChunkRecord]:
        """In commit order (a run numbers its chunks from 1 as it commits them)."""
        ...

    def rejections(
        self, migration_id: str, *, offset: int = 0, limit: int = 10_000
    ) -> Sequence[Rejection]:
        """A run's rejected rows in the order they were stored."""
        ...

    def forget(self, mapping_name: str) -> None:
        """Drop the mapping's checkpoint and day counts (a restart from the first row; the
        catalog's rows stay and are recognised as present)."""
        ...
