"""Reading a database table of market data in bounded chunks (issue 16's migration source).

A ``TableSource`` opens a ``TableSnapshot``: one consistent view of the table (a read-only
REPEATABLE READ transaction on PostgreSQL) in which every question of one migration run is
asked, so the rows counted, the rows read and the per-day totals all describe the same
table state. Rows come ordered by (timestamp, key), ``chunk_rows`` at a time (never the whole
table in memory); a chunk always ends at the end of a timestamp (rows of one instant are
never split), so a duplicate is seen beside the row it repeats, and the chunk's watermark,
its last timestamp, is where the next read resumes: ``after`` takes the rows strictly after
it. Rows without a timestamp sort last and are read on every pass (they are rejected, and
never move the watermark).

Chunks arrive already converted to what the shared validation reads (bars as a bar file's
reader gives them, ticks as a tick file's: the adapter owns the driver's cell types), with
the rows of no mapped instrument rejected, and with the count of rows per *source day* (the
day of the timestamp as the table writes it: its UTC date for a time zone-aware column, its
own date for a naive one, ``value // units-per-day`` for epoch integers), which is how rows
arriving late inside an already migrated range are noticed.
"""

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Protocol

from quantdesk.domain.market_data import Rejection
from quantdesk.domain.migration import Watermark
from quantdesk.domain.source_mapping import SourceMapping
from quantdesk.services.columns import RawBarColumns
from quantdesk.services.tick_columns import RawTicks


@dataclass(frozen=True)
class DayWindow:
    """Source days ``first <= day <= last`` (days since 1970-01-01 in the source's terms)."""

    first: int
    last: int


@dataclass(frozen=True)
class TableChunk:
    """One chunk of a table: ``rejections`` holds the rows that could not be assigned to an
    instrument; ``rows`` how many rows the chunk read (``first_row`` numbers its first in
    this read, 1-based); ``last`` the watermark after it (None when it held only rows
    without a timestamp); ``days`` the rows read per source day."""

    rejections: Sequence[Rejection]
    rows: int
    first_row: int
    last: Watermark | None
    days: Mapping[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class BarChunk(TableChunk):
    """A chunk of a bars table: ``bars`` holds the rows per catalog instrument id."""

    bars: Mapping[str, RawBarColumns] = field(default_factory=dict)


@dataclass(frozen=True)
class TickChunk(TableChunk):
    """A chunk of a tick table: ``ticks`` holds the rows per catalog instrument id, in the
    table's (timestamp, key) order."""

    ticks: Mapping[str, RawTicks] = field(default_factory=dict)


class TableSnapshot(Protocol):
    def count(self, after: Watermark | None = None, through: Watermark | None = None) -> int:
        """How many rows ``bar_chunks(after=after, through=through)`` would return."""
        ...

    def day_counts(self, through: Watermark) -> dict[int, int]:
        """Rows per source day with a timestamp at or before ``through``."""
        ...

    def bar_chunks(
        self,
        after: Watermark | None = None,
        days: DayWindow | None = None,
        through: Watermark | None = None,
    ) -> Iterator[BarChunk]:
        """The selected rows in (timestamp, key) order: strictly after ``after``, within
        ``days``, at or before ``through``, each when given (a read bounded by ``days`` or
        ``through`` takes no rows without a timestamp)."""
        ...

    def tick_chunks(
        self,
        after: Watermark | None = None,
        days: DayWindow | None = None,
        through: Watermark | None = None,
    ) -> Iterator[TickChunk]:
        """As ``bar_chunks``, for a table of ticks."""
        ...

    def query_text(self, after: Watermark | None = None) -> str:
        """The SQL a read after the watermark runs, as lineage records it."""
        ...


class TableSource(Protocol):
    def describe(self) -> str:
        """The source as lineage records it: the DSN without its password."""
        ...

    def problems(self, mapping: SourceMapping) -> Sequence[str]:
        """Why the mapping cannot be read (a missing table or column, a key that allows
        NULL), one sentence each; empty when it can."""
        ...

    def snapshot(self, mapping: SourceMapping) -> AbstractContextManager[TableSnapshot]:
        """One consistent view of the mapped table for the duration of the block."""
        ...
