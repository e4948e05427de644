"""Tick files and the tick part of the catalog: ingest appends (``TickStore``), runs read
(``TickCatalog``). Both speak the catalog's data types, :class:`TickKind`."""

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

from quantdesk.domain.instruments import InstrumentSpec
from quantdesk.domain.market_data import CatalogFile, LineageRecord
from quantdesk.domain.ticks import TickIngestOptions, TickKind
from quantdesk.services.ports.catalog import StagedCommit
from quantdesk.services.tick_columns import RawTicks, TickColumns


class TickSource(Protocol):
    """Reads tick files (CSV, Parquet) into columns without judging them."""

    def read_ticks(
        self, path: Path, kind: TickKind, options: TickIngestOptions
    ) -> Iterator[RawTicks]:
        """The file in chunks of at most ``options.chunk_rows`` rows, in file order.

        Only one chunk is held at a time, so memory stays flat whatever the file's size.
        """
        ...


class TickAppend(Protocol):
    """One all-or-nothing addition to a tick series, holding the catalog's writer lock."""

    @property
    def span(self) -> tuple[int, int] | None:
        """First and last timestamp the series holds (``None``: empty), as at the start."""
        ...

    @property
    def last_sequence(self) -> int | None:
        """The sequence number of the series' last stored delta (deltas only)."""
        ...

    def held(self, start_ns: int, end_ns: int) -> TickColumns:
        """What the series holds with ``start_ns <= ts <= end_ns``, in stored order."""
        ...

    def stage(self, ticks: TickColumns) -> None:
        """Stage ticks later than everything staged or stored so far (not visible yet)."""
        ...

    def replace(self, start_ns: int, end_ns: int, ticks: TickColumns) -> None:
        """Stage ``ticks`` (time-ordered, inside the range) as the series' rows with
        ``start_ns <= ts <= end_ns`` in place of the ones it holds there; its rows outside
        the range stay as they are. At most once per addition, before any ``stage``."""
        ...

    def commit(self, lineage: Callable[[StagedCommit], LineageRecord]) -> StagedCommit:
        """Make every staged file visible, and the files it replaces gone, with its lineage
        record, or nothing at all."""
        ...


class TickStore(Protocol):
    """Adds trade ticks, quote ticks and order-book deltas in the engine's catalog format."""

    def appending(
        self, kind: TickKind, instrument: InstrumentSpec
    ) -> AbstractContextManager[TickAppend]:
        """An addition that is discarded unless committed before the block ends."""
        ...


class TickCatalog(Protocol):
    """What the catalog holds of an instrument's ticks or book deltas, for a run's checks."""

    def tick_span(
        self, kind: TickKind, instrument_id: str, start_ns: int, end_ns: int
    ) -> tuple[int, int, int]:
        """How many rows the range holds, and the first and last of their timestamps
        (``0, 0, -1`` for none)."""
        ...

    def tick_files(
        self, kind: TickKind, instrument_id: str, start_ns: int, end_ns: int
    ) -> list[CatalogFile]:
        """The files holding rows in the range, with their checksums."""
        ...

    def read_ticks(
        self, kind: TickKind, instrument_id: str, start_ns: int, end_ns: int
    ) -> TickColumns:
        """The rows with ``start_ns <= ts <= end_ns``, in stored order."""
        ...

    def tick_batches(
        self, kind: TickKind, instrument_id: str, start_ns: int, end_ns: int
    ) -> Iterator[TickColumns]:
        """The same rows in batches of bounded size (a whole range of a busy book need
        never be in memory at once)."""
        ...
