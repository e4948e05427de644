"""What the use cases need from the outside world, as Protocols; adapters implement them."""

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol, TextIO

from quantdesk.domain.audit import AuditAnchor, AuditEvent
from quantdesk.domain.audit_replay import RegistryRecords
from quantdesk.domain.backtest import (
    BacktestResult,
    EngineRejection,
    FillRecord,
    PositionRecord,
    SignalDataUsed,
    SignalDecision,
    SignalUse,
)
from quantdesk.domain.backtest_plan import RunPlan
from quantdesk.domain.instruments import InstrumentSpec
from quantdesk.domain.market_data import (
    BarIngestOptions,
    CatalogEntry,
    CatalogFile,
    LineageRecord,
    ValueBounds,
)
from quantdesk.domain.risk import KillSwitch, KillSwitchScope, RiskEvent
from quantdesk.domain.signal_routing import (
    DeadLetter,
    RejectedSignal,
    SignalEnvelope,
    SignalEvent,
    SignalEventKind,
)
from quantdesk.domain.signals import AISignal
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.domain.strategies.families import StrategyFamily
from quantdesk.domain.strategies.versions import StrategyChange, StrategyVersion
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


@dataclass(frozen=True)
class EngineRun:
    """What the engine did, as recorded by quantdesk during the run."""

    fills: Sequence[FillRecord]  # a RecordLog from the engine: columns, not objects
    positions: Sequence[PositionRecord]
    events_processed: int
    orders: int
    wall_seconds: float
    balances: dict[str, float]
    risk_events: list[RiskEvent]
    signal_uses: list[SignalUse] = field(default_factory=list)
    signal_decisions: list[SignalDecision] = field(default_factory=list)
    engine_rejections: list[EngineRejection] = field(default_factory=list)
    orders_accepted: int | None = None  # by the venue; None: not counted


class BacktestRunner(Protocol):
    """Runs a prepared backtest (a :class:`RunPlan`) on an engine over the catalog."""

    @property
    def engine_version(self) -> str: ...

    def check(self, plan: RunPlan) -> None:
        """Raise ``InvalidInputError`` naming the strategy and field of any bad config."""
        ...

    def run(self, plan: RunPlan, on_progress: Callable[[int], None] | None = None) -> EngineRun:
        """``on_progress`` receives the simulated time (ns) as the run advances."""
        ...


@dataclass(frozen=True, eq=False)
class RunArtifacts:
    """The bulky part of a result, stored beside ``result.json`` as Parquet."""

    fills: Sequence[FillRecord]
    positions: Sequence[PositionRecord]
    curve: EquityCurve
    prices: dict[str, tuple[Int64Array, Float64Array]]  # instrument -> bar closes


ReportWriter = Callable[[TextIO], None]
"""Writes a run's report into an open text file."""


class RunStore(Protocol):
    """Where backtest runs live: one folder per run under ``QUANTDESK_HOME/runs``."""

    def save(
        self, result: BacktestResult, artifacts: RunArtifacts, write_report: ReportWriter
    ) -> Path:
        """Store the run whole or not at all; ``write_report`` writes ``report.html``."""
        ...

    def results(self) -> list[BacktestResult]:
        """Every stored run, newest first."""
        ...

    def result(self, run_id: str) -> BacktestResult: ...

    def artifacts(self, run_id: str) -> RunArtifacts: ...

    def directory(self, run_id: str) -> Path: ...


class ReportRenderer(Protocol):
    def write(self, result: BacktestResult, artifacts: RunArtifacts, out: TextIO) -> None:
        """A self-contained HTML page, written part by part (it embeds ~5 MB of plotly.js:
        held as one string, it would add to the run's peak memory)."""
        ...


class KillSwitchStore(Protocol):
    """The desk's kill switches, shared by every process that trades (read before orders)."""

    def thrown(self) -> list[KillSwitch]: ...

    def throw(self, switch: KillSwitch) -> None: ...

    def release(self, scope: KillSwitchScope, target: str, actor: str, at_ns: int) -> bool: ...


# signals -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignalRecord:
    """One record of a signal file, not judged yet: the mapping, or why it is not one."""

    row: int
    raw_text: str
    raw: Mapping[str, object] | None
    error: str | None = None
    error_field: str = "record"
    error_reason: str = "malformed"
    """A ``SignalRejectReason`` value: which bound or rule the unreadable record broke."""


class SignalRecordSource(Protocol):
    """Reads signal files (JSON lines, CSV, Parquet) into records without judging them."""

    def read_signals(self, path: Path) -> list[SignalRecord]:
        """Raise ``SourceReadError`` when the file cannot be read at all."""
        ...


class SignalStore(Protocol):
    """The signal buffer: every accepted signal, durable on append, replayable from the catalog."""

    def append(self, signals: Sequence[AISignal]) -> None:
        """Durable against a crash of this process once it returns."""
        ...

    def contains(self, signal_id: str) -> bool: ...

    def get(self, signal_id: str) -> AISignal | None: ...

    def query(
        self,
        *,
        signal_types: Sequence[str] | None = None,
        instrument_ids: Sequence[str] | None = None,
        start_ns: int | None = None,
        end_ns: int | None = None,
        limit: int | None = None,
    ) -> list[AISignal]:
        """Signals in ``ts_init`` order (ties by signal id), bounds inclusive."""
        ...

    def counts(self) -> dict[tuple[str, str], int]:
        """Accepted signals per (signal type, source model)."""
        ...

    def flush(self) -> int:
        """Move the journal into the catalog (what replay reads); returns signals moved."""
        ...

    def replay_data(
        self,
        instrument_id: str,
        signal_types: Sequence[str] | None,
        start_ns: int,
        end_ns: int,
    ) -> SignalDataUsed:
        """What a backtest replays for one instrument (flushed signals only): count, span,
        checksums of the files read."""
        ...

    def close(self) -> None: ...

    def exclusive(self) -> AbstractContextManager[None]:
        """Held by one ingest at a time, across processes: judging to buffering."""
        ...

    def quarantined(self) -> list[RejectedSignal]:
        """Buffered records that could not be stored (set aside, never blocking the rest)."""
        ...


class SignalRejectStore(Protocol):
    def record(self, batch_id: str, rejected: Sequence[RejectedSignal]) -> Path | None:
        """Keep rejected records for review; returns where (None when there were none)."""
        ...

    def rejected(self) -> list[RejectedSignal]:
        """Every kept reject, once per ``key`` (unkeyed ones always)."""
        ...

    def keys(self) -> set[str]:
        """The keys of the rejects kept so far."""
        ...


class DeadLetterStore(Protocol):
    def put(self, letter: DeadLetter) -> None: ...

    def letters(self, *, include_replayed: bool = False) -> list[DeadLetter]: ...

    def mark_replayed(self, dead_letter_id: str, at_ns: int) -> None: ...


class SignalEventSink(Protocol):
    """Where every signal interaction is told: structured, with ids, never with secrets."""

    def emit(self, event: SignalEvent) -> None: ...

    def counts(self, kind: SignalEventKind) -> dict[tuple[str, str], int]:
        """Events of one kind per (signal type, source model), over the whole log."""
        ...

    def flush(self) -> None: ...


@dataclass(frozen=True)
class ReceivedSignal:
    """A signal a consumer took from the bus; ``receipt`` acknowledges it."""

    envelope: SignalEnvelope
    receipt: str


class SignalBus(Protocol):
    """Carries signals from the router to each consumer, which acknowledges what it took."""

    @property
    def durable(self) -> bool:
        """True when queued signals outlive this process (so another process may consume)."""
        ...

    async def publish(self, envelopes: Sequence[SignalEnvelope]) -> None: ...

    async def receive(
        self, consumer_id: str, *, max_count: int, timeout_s: float
    ) -> list[ReceivedSignal]:
        """Up to ``max_count`` signals; waits at most ``timeout_s`` when there are none."""
        ...

    async def ack(self, consumer_id: str, receipt: str) -> None: ...

    async def pending(self, consumer_id: str) -> int:
        """Published to the consumer and not acknowledged yet (queued or in flight)."""
        ...

    async def close(self) -> None: ...


# signal producers ----------------------------------------------------------------------------


@dataclass(frozen=True)
class GarchFit:
    """GARCH(1,1) with zero mean, in the units of the returns it was fitted on.

    ``sigma2[t+1] = omega + alpha * r[t]^2 + beta * sigma2[t]``; ``next_variance`` is the
    one-step forecast after the last return of the fit.
    """

    omega: float
    alpha: float
    beta: float
    next_variance: float
    converged: bool


class GarchFitter(Protocol):
    """Fits GARCH(1,1) by maximum likelihood (the ``arch`` package in the adapter)."""

    @property
    def model_version(self) -> str: ...

    def fit(self, returns: Float64Array) -> GarchFit:
        """Fit on exactly these returns, oldest first; nothing else is seen."""
        ...


@dataclass(frozen=True)
class Headline:
    ts_ns: int
    instrument_id: str
    text: str


@dataclass(frozen=True)
class HeadlineFeed:
    """Headlines of one file, oldest first; ``source_id`` names the file and its checksum."""

    source_id: str
    headlines: tuple[Headline, ...]


class HeadlineSource(Protocol):
    def read_headlines(self, path: Path) -> HeadlineFeed:
        """Raise ``SourceReadError`` naming the line when the file cannot be read."""
        ...


class SentimentScorer(Protocol):
    """Scores text in [-1, 1] (negative to positive), deterministically."""

    @property
    def model_version(self) -> str: ...

    def score(self, texts: Sequence[str]) -> list[float]: ...


# --- strategy registry ----------------------------------------------------------------------

Expect = Literal["new", "existing", "any"]  # what a registration expects to find stored


class StrategyStore(Protocol):
    """Strategy versions, tags and deprecations; every write appends its audit event atomically.

    Writes return the stored version and whether anything changed (repeats are no-ops).
    """

    def add_version(
        self, definition: StrategyDefinition, *, actor: str, at_ns: int, expect: Expect = "any"
    ) -> tuple[StrategyVersion, bool]:
        """Store the next version, unless the newest one has the same content hash.

        ``expect="new"`` refuses a strategy that exists with other content (ConflictError),
        ``"existing"`` one that does not exist (NotFoundError).
        """
        ...

    def deprecate(
        self, strategy_id: str, version: int, *, actor: str, reason: str, at_ns: int
    ) -> tuple[StrategyVersion, bool]: ...

    def tag(
        self, strategy_id: str, version: int, tag: str, *, actor: str, at_ns: int
    ) -> tuple[StrategyVersion, bool]:
        """Point ``tag`` at this version (moving it from another version of the strategy)."""
        ...

    def get(self, strategy_id: str, version: int | None = None) -> StrategyVersion | None:
        """One version; the newest when ``version`` is None."""
        ...

    def tagged(self, strategy_id: str, tag: str) -> StrategyVersion | None: ...

    def versions(self, strategy_id: str) -> list[StrategyVersion]:
        """Oldest first."""
        ...

    def all_versions(self) -> list[StrategyVersion]: ...

    def latest(
        self, family: StrategyFamily | None = None, tag: str | None = None
    ) -> list[StrategyVersion]:
        """Per strategy: the newest version, or the version carrying ``tag``."""
        ...

    def stored_content(self, strategy_id: str, version: int) -> str | None:
        """The canonical JSON exactly as stored (the bytes its content hash covers)."""
        ...

    def records(self) -> RegistryRecords:
        """Every version, tag and deprecation row as stored (unparsed), for the audit."""
        ...


class AuditLog(Protocol):
    """The append-only, hash-chained log of every change (``domain/audit.py``)."""

    def append(
        self, actor: str, action: str, subject: str, payload: dict[str, object], at_ns: int
    ) -> AuditEvent: ...

    def events(self, after_seq: int = 0) -> Iterator[AuditEvent]:
        """In sequence order."""
        ...

    def head(self) -> tuple[AuditAnchor, str | None] | None:
        """The stored head (newest event) and its keyed seal; None before the first event."""
        ...


class ConfigSchemaChecker(Protocol):
    """Checks a custom strategy's free-form config against the JSON schema it carries."""

    def schema_problem(self, schema: Mapping[str, object]) -> str | None:
        """Why the schema itself may not be used (invalid, not self-contained, a pattern of
        unbounded matching time, too large), or None; checked before any value meets it."""
        ...

    def problems(self, schema: Mapping[str, object], value: object) -> list[tuple[str, str]]:
        """(JSON path, message) per violation, empty when valid; a bad schema is a violation."""
        ...


StrategyChangeListener = Callable[[StrategyChange], None]


class SchemaMigrator(Protocol):
    """The database's schema: migrations applied on first use and by ``quantdesk db upgrade``."""

    @property
    def location(self) -> str:
        """Where the database is, without credentials."""
        ...

    def upgrade(self) -> list[str]: ...

    def current_revision(self) -> str | None: ...
