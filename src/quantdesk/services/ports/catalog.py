"""The market-data catalog and the bar files it is filled from."""

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from quantdesk.domain.instruments import InstrumentSpec
from quantdesk.domain.market_data import (
    BarIngestOptions,
    CatalogEntry,
    CatalogFile,
    LineageRecord,
    ValueBounds,
)
from quantdesk.services.columns import BarColumns, Float64Array, Int64Array, RawBarColumns


@dataclass(frozen=True, eq=False)
class BarChunks:
    """A bar file opened for reading in chunks: ``rows`` data rows in all (for progress),
    ``chunks`` yielding them in file order, each chunk's rows numbered by their file line."""

    rows: int
    chunks: Iterator[RawBarColumns]


class BarSource(Protocol):
    """Reads bar files (CSV, Parquet) into columns without judging them."""

    def open_bars(self, path: Path, options: BarIngestOptions, chunk_rows: int) -> BarChunks:
        """The file as chunks of at most ``chunk_rows`` rows, memory bounded by the chunk.

        Whatever is decided from the whole file (the epoch unit, how rows are numbered) is
        decided before the first chunk, so the chunks read exactly as the whole file does.
        """
        ...


@dataclass(frozen=True)
class StagedCommit:
    """What a catalog write will do, shown to the caller before it becomes visible."""

    files_added: list[CatalogFile]
    files_replaced: list[str]


class BarStaging(Protocol):
    """Bars of one bar type staged into one catalog transaction, a batch at a time."""

    def add(self, bars: BarColumns) -> None:
        """Stage rows the catalog does not hold, each batch later than the batch before."""
        ...

    def commit(self, lineage: Callable[[StagedCommit], LineageRecord]) -> StagedCommit:
        """Every staged file and the lineage record become visible at once."""
        ...


class MarketDataCatalog(Protocol):
    """The market-data store the engine reads: instruments, bars, their lineage."""

    @property
    def root(self) -> Path: ...

    @property
    def engine_version(self) -> str: ...

    @property
    def value_bounds(self) -> ValueBounds:
        """The largest price and quantity the engine stores: larger values are rejected."""
        ...

    def exclusive(self) -> AbstractContextManager[None]:
        """Hold the catalog as its one writer (across processes) until the block ends.

        What an ingest reads inside the block stays true until it commits there.
        """
        ...

    def put_instrument(self, spec: InstrumentSpec) -> None: ...

    def instrument(self, instrument_id: str) -> InstrumentSpec | None: ...

    def instruments(self) -> list[InstrumentSpec]: ...

    def has_data_for(self, instrument_id: str) -> bool: ...

    def read_bars(self, bar_type: str, start_ns: int, end_ns: int) -> BarColumns:
        """Bars with ``start_ns <= ts <= end_ns``, in time order."""
        ...

    def bar_span(self, bar_type: str, start_ns: int, end_ns: int) -> tuple[int, int, int]:
        """How many bars the range holds, and the first and last of their timestamps."""
        ...

    def read_closes(
        self, bar_type: str, start_ns: int, end_ns: int
    ) -> tuple[Int64Array, Float64Array]:
        """Close times and prices in the range, in time order."""
        ...

    def commit_bars(
        self,
        instrument: InstrumentSpec,
        bar_type: str,
        bars: BarColumns,
        lineage: Callable[[StagedCommit], LineageRecord],
    ) -> StagedCommit:
        """Add bars that the catalog does not hold yet, atomically, with their lineage record.

        Either every file and the lineage record land, or nothing does.
        """
        ...

    def stage_bars(
        self, instrument: InstrumentSpec, bar_type: str
    ) -> AbstractContextManager[BarStaging]:
        """A transaction for bars added in batches, so a file of any size is one commit.

        Nothing is visible before ``commit``; leaving the block without it (an error, a
        crash) leaves the catalog as it was.
        """
        ...

    def entries(self) -> list[CatalogEntry]: ...

    def bar_files(self, bar_type: str, start_ns: int, end_ns: int) -> list[CatalogFile]:
        """The files holding bars of ``bar_type`` in the range, with their checksums."""
        ...

    def lineage(self) -> Iterator[LineageRecord]: ...
