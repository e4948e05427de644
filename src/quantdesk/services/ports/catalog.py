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


class BarSource(Protocol):
    """Reads bar files (CSV, Parquet) into columns without judging them."""

    def read_bars(self, path: Path, options: BarIngestOptions) -> RawBarColumns: ...


@dataclass(frozen=True)
class StagedCommit:
    """What a catalog write will do, shown to the caller before it becomes visible."""

    files_added: list[CatalogFile]
    files_replaced: list[str]


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

    def entries(self) -> list[CatalogEntry]: ...

    def bar_files(self, bar_type: str, start_ns: int, end_ns: int) -> list[CatalogFile]:
        """The files holding bars of ``bar_type`` in the range, with their checksums."""
        ...

    def lineage(self) -> Iterator[LineageRecord]: ...
