"""What the use cases need from the outside world, as Protocols; adapters implement them."""

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from quantdesk.domain.instruments import InstrumentSpec
from quantdesk.domain.market_data import (
    BarIngestOptions,
    CatalogEntry,
    CatalogFile,
    LineageRecord,
)
from quantdesk.services.columns import BarColumns, RawBarColumns

Advance = Callable[[int], None]


class ProgressReporter(Protocol):
    """Long work reports progress through this; the CLI draws a bar, the API streams it."""

    def task(self, description: str, total: int | None = None) -> AbstractContextManager[Advance]:
        """A step of work; call the yielded function with the units just completed."""
        ...


class SilentProgress:
    """For callers that want no progress display (tests, the Python API by default)."""

    def task(self, description: str, total: int | None = None) -> AbstractContextManager[Advance]:
        return nullcontext(_ignore)


def _ignore(_: int) -> None:
    return None


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

    def put_instrument(self, spec: InstrumentSpec) -> None: ...

    def instrument(self, instrument_id: str) -> InstrumentSpec | None: ...

    def instruments(self) -> list[InstrumentSpec]: ...

    def has_data_for(self, instrument_id: str) -> bool: ...

    def read_bars(self, bar_type: str, start_ns: int, end_ns: int) -> BarColumns:
        """Bars with ``start_ns <= ts <= end_ns``, in time order."""
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

    def lineage(self) -> Iterator[LineageRecord]: ...
