"""What the use cases need from the outside world, as Protocols; adapters implement them."""

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from quantdesk.domain.backtest import BacktestRequest, BacktestResult, FillRecord, PositionRecord
from quantdesk.domain.instruments import InstrumentSpec
from quantdesk.domain.market_data import (
    BarIngestOptions,
    CatalogEntry,
    CatalogFile,
    LineageRecord,
)
from quantdesk.domain.risk import KillSwitch, KillSwitchScope, RiskEvent
from quantdesk.services.columns import BarColumns, Float64Array, Int64Array, RawBarColumns
from quantdesk.services.performance import EquityCurve

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


@dataclass(frozen=True)
class EngineRun:
    """What the engine did, as recorded by quantdesk during the run."""

    fills: list[FillRecord]
    positions: list[PositionRecord]
    events_processed: int
    orders: int
    wall_seconds: float
    balances: dict[str, float]
    risk_events: list[RiskEvent]


class BacktestRunner(Protocol):
    """Runs a backtest request on an engine over the catalog."""

    @property
    def engine_version(self) -> str: ...

    def check(self, request: BacktestRequest) -> None:
        """Raise ``InvalidInputError`` naming the strategy and field of any bad config."""
        ...

    def run(
        self, request: BacktestRequest, on_progress: Callable[[int], None] | None = None
    ) -> EngineRun:
        """``on_progress`` receives the simulated time (ns) as the run advances."""
        ...


@dataclass(frozen=True, eq=False)
class RunArtifacts:
    """The bulky part of a result, stored beside ``result.json`` as Parquet."""

    fills: list[FillRecord]
    positions: list[PositionRecord]
    curve: EquityCurve
    prices: dict[str, tuple[Int64Array, Float64Array]]  # instrument -> bar closes


class RunStore(Protocol):
    """Where backtest runs live: one folder per run under ``QUANTDESK_HOME/runs``."""

    def save(self, result: BacktestResult, artifacts: RunArtifacts, report_html: str) -> Path: ...

    def results(self) -> list[BacktestResult]:
        """Every stored run, newest first."""
        ...

    def result(self, run_id: str) -> BacktestResult: ...

    def artifacts(self, run_id: str) -> RunArtifacts: ...

    def directory(self, run_id: str) -> Path: ...


class ReportRenderer(Protocol):
    def render(self, result: BacktestResult, artifacts: RunArtifacts) -> str:
        """A self-contained HTML page."""
        ...


class KillSwitchStore(Protocol):
    """The desk's kill switches, shared by every process that trades (read before orders)."""

    def thrown(self) -> list[KillSwitch]: ...

    def throw(self, switch: KillSwitch) -> None: ...

    def release(self, scope: KillSwitchScope, target: str, actor: str, at_ns: int) -> bool: ...
