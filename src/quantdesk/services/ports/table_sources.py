"""Reading a database table of market data in bounded chunks (issue 16's migration source).

A ``TableSource`` streams the rows a ``SourceMapping`` selects, ordered by (timestamp, key),
``chunk_rows`` at a time, never the whole table in memory; ``after`` resumes strictly after a
watermark (the last committed row's timestamp and key), which is how a migration resumes
after a crash and how an incremental run takes only new rows.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from quantdesk.domain.source_mapping import SourceMapping

Cell = object
"""A cell as the driver gives it (str, int, float, Decimal, datetime, None)."""


@dataclass(frozen=True)
class Watermark:
    """The last row taken: its timestamp cell and key cell (None without a key column)."""

    timestamp: Cell
    key: Cell = None


@dataclass(frozen=True)
class SourceChunk:
    """``columns[c][i]`` is row ``i``'s cell of column ``c`` (``mapping.selected()`` order);
    ``first_row`` numbers the chunk's first row in the whole read (1-based), for rejections."""

    columns: dict[str, list[Cell]]
    first_row: int
    last: Watermark

    def __len__(self) -> int:
        first = next(iter(self.columns.values()), [])
        return len(first)


class TableSource(Protocol):
    def describe(self) -> str:
        """The source as lineage records it: the DSN without its password."""
        ...

    def missing_columns(self, mapping: SourceMapping) -> Sequence[str]:
        """The mapping's columns the table does not have (all of them when there is no such
        table); empty when the mapping can be read."""
        ...

    def chunks(
        self, mapping: SourceMapping, after: Watermark | None = None
    ) -> Iterator[SourceChunk]:
        """The selected rows in (timestamp, key) order, strictly after ``after``."""
        ...
