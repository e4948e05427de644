"""Backtest requests and results: what a researcher asks for and what comes back.

A request names everything that decides the outcome (registry references to strategies, data
range, venue, seed), so its fingerprint, together with the pinned definitions' content hashes,
the data's checksums and the versions, identifies the result: the same fingerprint gives the
same fills and metrics, bit for bit. What each strategy trades (instruments, bar spec, signal
types) comes from its definition, never from the request (DESIGN.md §3, "Runs and results").
"""

from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from quantdesk.domain.audit import AuditAnchor
from quantdesk.domain.backtest_checks import (
    STRATEGIES_MAX,
    VENUES_MAX,
    Seed,
    Timestamp,
    check_request_shape,
    check_strategy_refs,
    refusal,
)
from quantdesk.domain.backtest_records import FillRecord as FillRecord
from quantdesk.domain.backtest_records import PositionRecord as PositionRecord
from quantdesk.domain.backtest_records import SignalDecision as SignalDecision
from quantdesk.domain.backtest_records import SignalUse as SignalUse
from quantdesk.domain.backtest_settings import AccountType as AccountType
from quantdesk.domain.backtest_settings import EngineOptions as EngineOptions
from quantdesk.domain.backtest_settings import FillModelSpec as FillModelSpec
from quantdesk.domain.backtest_settings import Liquidity as Liquidity
from quantdesk.domain.backtest_settings import OmsType as OmsType
from quantdesk.domain.backtest_settings import StrategySpec as StrategySpec
from quantdesk.domain.backtest_settings import VenueSpec as VenueSpec
from quantdesk.domain.conversion import ConversionUsed
from quantdesk.domain.execution import EngineRejection as EngineRejection
from quantdesk.domain.execution import ExecutionSummary as ExecutionSummary
from quantdesk.domain.execution_quality import ExecutionQuality
from quantdesk.domain.expiry import Settlement
from quantdesk.domain.risk import RiskConfig, RiskEvent
from quantdesk.domain.rolls import ROLLS_MAX, Roll, RollRule
from quantdesk.domain.signals import SignalType
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.domain.text import LABEL_MAX_LENGTH, single_line
from quantdesk.domain.time import describe_ns


class BacktestRequest(BaseModel):
    """A run of registered strategies: references in, exact pinned versions after ``prepare``.

    ``strategies``: ``ID`` (newest), ``ID@VERSION`` or ``ID@TAG``; once prepared each is the
    exact ``id@version`` it resolved to, with its definition in ``pinned`` (same order).
    ``risk.constraints`` are keyed by these references (a definition's own ``risk`` applies
    without being repeated here). ``flat_at_end`` and ``trade_until_ns`` are run options every
    strategy receives.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    strategies: list[str] = Field(
        min_length=1, max_length=STRATEGIES_MAX, description="registry references"
    )
    pinned: list[StrategyDefinition] = Field(
        default_factory=list, description="set by prepare: the exact definitions, in order"
    )
    start_ns: Timestamp | None = Field(
        default=None, description="first bar close included (ns UTC)"
    )
    end_ns: Timestamp | None = Field(default=None, description="last bar close included (ns UTC)")
    flat_at_end: bool = Field(
        default=False, description="every strategy closes its positions when the run ends"
    )
    trade_until_ns: Timestamp | None = Field(
        default=None, description="no strategy places orders at or after this time (ns UTC)"
    )
    venues: list[VenueSpec] = Field(default_factory=list, max_length=VENUES_MAX)
    seed: Seed = Field(default=0, description="seed of the fill model's draws, 0 .. 2^63-1")
    risk: RiskConfig = Field(default_factory=RiskConfig)
    engine: EngineOptions = Field(default_factory=EngineOptions)
    label: Annotated[str, Field(max_length=LABEL_MAX_LENGTH), AfterValidator(single_line)] = ""
    signals: Literal["none", "all"] | list[str] = Field(
        default="none",
        description="AI signals replayed with the bars: none, all, or a list of signal types",
    )
    rolls: list[RollRule] = Field(
        default_factory=list,
        max_length=ROLLS_MAX,
        description="futures chains the family strategies roll along, and by which rule",
    )

    @model_serializer(mode="wrap")
    def _without_empty_rolls(self, handler: SerializerFunctionWrapHandler) -> object:
        """No rolls: the document (and a run's fingerprint) is what it was before rolls."""
        document = handler(self)
        if isinstance(document, dict) and not self.rolls:
            document.pop("rolls", None)
        return document

    @model_validator(mode="before")
    @classmethod
    def _registry_references(cls, data: object) -> object:
        """An old-style request (import paths, instruments, bar spec) is refused by name."""
        return check_request_shape(data)

    @field_validator("signals", mode="before")
    @classmethod
    def _check_signals(cls, value: object) -> object:
        """Types upper-cased, known, sorted and unique: one spelling, one fingerprint."""
        if isinstance(value, str):
            lowered = value.strip().lower()
            if lowered in ("none", "all"):
                return lowered
            value = [part for part in value.split(",") if part.strip()]
        if not isinstance(value, list | tuple):
            return value
        if not value:
            raise ValueError("an empty list of signal types: use 'none' to replay no signals")
        known = {t.value for t in SignalType}
        chosen = {str(v).strip().upper() for v in value}
        unknown = sorted(chosen - known)
        if unknown:
            raise ValueError(
                f"unknown signal type(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        return sorted(chosen)

    @model_validator(mode="after")
    def _check_range(self) -> Self:
        """Runnable as stated: a range that is one, one setting per venue, references that
        parse, no strategy twice, constraints only for strategies of the run."""
        if self.start_ns is not None and self.end_ns is not None and self.start_ns > self.end_ns:
            raise refusal(
                ("start_ns",),
                "start_after_end",
                f"start {describe_ns(self.start_ns)} is after end {describe_ns(self.end_ns)}",
            )
        names = [v.name for v in self.venues]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise refusal(
                    ("venues", index, "name"), "duplicate_venue", f"venue {name} is listed twice"
                )
        check_strategy_refs(
            self.strategies,
            [(d.strategy_id, d.version) for d in self.pinned],
            list(self.risk.constraints),
        )
        return self

    @property
    def replays_signals(self) -> bool:
        return self.signals != "none"

    @property
    def signal_types(self) -> list[str] | None:
        """The signal types replayed; None for all of them (and for none: check
        ``replays_signals`` first)."""
        return None if isinstance(self.signals, str) else list(self.signals)

    def venue(self, name: str) -> VenueSpec:
        """The venue's settings, or the defaults for a venue the request does not configure."""
        for spec in self.venues:
            if spec.name == name:
                return spec
        return VenueSpec(name=name)


def venue_names_of(instruments: list[str] | tuple[str, ...]) -> list[str]:
    """The venues instruments trade on (the part after the last dot), sorted."""
    return sorted({i.rsplit(".", 1)[1] for i in instruments})


class StrategyRun(BaseModel):
    """One strategy of a run as the result records it: which registry version ran, as what.

    ``ref`` is the exact ``id@version`` (a strategy run below the registry, by tests, has its
    engine id there and no content hash); ``nautilus_id`` is the id its fills carry.
    """

    model_config = ConfigDict(frozen=True)

    ref: str
    content_hash: str = ""
    nautilus_id: str
    family: str
    instruments: list[str]
    bar_types: list[str]
    market_data: str = "bars"  # or trades, quotes, book: its bars built from them


class Metrics(BaseModel):
    """Performance from the mark-to-market equity curve and the closed trades.

    Returns are daily (UTC calendar days with data); annualised with the observed number of
    such days per year, so 24/7 markets annualise by ~365 and weekday markets by ~252.
    Ratios without a meaningful value (no variance, no losses) are None.
    """

    model_config = ConfigDict(frozen=True)

    start_equity: float
    end_equity: float
    pnl: float
    total_return: float
    cagr: float | None
    annual_volatility: float | None
    sharpe: float | None
    sortino: float | None
    calmar: float | None
    max_drawdown: float
    max_drawdown_duration_ns: int
    trade_count: int
    win_rate: float | None
    profit_factor: float | None
    avg_win: float | None
    avg_loss: float | None
    expectancy: float | None
    exposure: float
    turnover: float
    fees: float
    periods_per_year: float | None


class StrategyAttribution(BaseModel):
    model_config = ConfigDict(frozen=True)

    strategy_id: str
    instruments: list[str]
    metrics: Metrics


class EngineFacts(BaseModel):
    model_config = ConfigDict(frozen=True)

    nautilus_trader_version: str
    quantdesk_version: str
    bars: int
    events_processed: int
    orders: int
    fills: int
    positions_closed: int
    wall_seconds: float
    bars_per_second: float
    ticks: int = 0  # trade or quote ticks, book deltas streamed
    ticks_per_second: float = 0.0


class DataUsed(BaseModel):
    """One series a run streams: a bar type's bars, or (``data_type`` other than ``bar``) an
    instrument's ticks or book deltas, ``bar_type`` then naming the instrument and ``bars``
    counting the rows."""

    model_config = ConfigDict(frozen=True)

    bar_type: str
    first_ts: int
    last_ts: int
    bars: int
    file_sha256: list[str]
    source_sha256: list[str]
    data_type: str = "bar"  # or trade_tick, quote_tick, order_book_delta
    purpose: str = "market"  # or "rate": FX bars read to convert currencies, not streamed

    @property
    def is_bars(self) -> bool:
        return self.data_type == "bar"

    @property
    def is_streamed(self) -> bool:
        return self.purpose == "market"


class SignalDataUsed(BaseModel):
    """The signals one instrument's replay reads: counts, span and the files' checksums."""

    model_config = ConfigDict(frozen=True)

    instrument_id: str
    signal_types: list[str] | None  # None: every type
    signals: int
    first_ts: int | None
    last_ts: int | None
    file_sha256: list[str]


class SignalTrace(BaseModel):
    """One signal a strategy acted on, followed to the gate's decisions and the fills."""

    model_config = ConfigDict(frozen=True)

    signal_id: str
    signal_type: str
    instrument_id: str
    ts_init: int
    source_model: str
    trace_id: str
    strategies: list[str]
    orders: int
    orders_approved: int
    orders_denied: int
    fills: int


class SignalProvenance(BaseModel):
    """Signal -> decision -> fill: totals, and one trace per signal that led to an order.

    Signals received but not acted on are counted (``signals_consumed``), not listed: a long
    run can consume one per bar.
    """

    model_config = ConfigDict(frozen=True)

    signals_replayed: int
    signals_consumed: int
    signals_acted_on: int
    orders: int
    orders_approved: int
    orders_denied: int
    fills_on_signals: int
    fills_without_signal: int
    traces: list[SignalTrace] = Field(default_factory=list)


class RunStatus(StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"


class BacktestResult(BaseModel):
    """What a backtest produced; fills, positions and the equity curve are stored beside it."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    status: RunStatus
    fingerprint: str
    request: BacktestRequest
    strategies: list[StrategyRun] = Field(
        default_factory=list, description="per strategy: ref, content hash, engine id, family"
    )
    instruments: list[str] = Field(default_factory=list, description="every instrument streamed")
    started_at_ns: int
    finished_at_ns: int
    data: list[DataUsed]
    metrics: Metrics
    attribution: list[StrategyAttribution]
    facts: EngineFacts
    risk_events: list[RiskEvent] = Field(default_factory=list)
    risk_counts: dict[str, int] = Field(
        default_factory=dict, description="risk events by rule (denials, reductions, halts)"
    )
    signal_data: list[SignalDataUsed] = Field(default_factory=list)
    provenance: SignalProvenance | None = Field(
        default=None, description="signal -> decision -> fill; None when no signals replayed"
    )
    engine_rejections: list[EngineRejection] = Field(
        default_factory=list, description="orders the engine rejected or denied, by reason"
    )
    execution: ExecutionSummary | None = None
    execution_quality: list[ExecutionQuality] = Field(
        default_factory=list, description="one per parent order of an execution-family strategy"
    )
    audit_head: AuditAnchor | None = Field(
        default=None,
        description="the registry's audit chain head when the run started: an anchor "
        "outside the database that `audit verify` checks",
    )
    warnings: list[str] = Field(default_factory=list)
    conversions: list[ConversionUsed] = Field(
        default_factory=list,
        description="the FX rates instruments in another currency than the account's were "
        "converted at",
    )
    settlements: list[Settlement] = Field(
        default_factory=list, description="positions settled at a dated contract's expiry"
    )
    rolls: list[Roll] = Field(
        default_factory=list, description="positions rolled from one contract of a chain on"
    )
    error: str | None = None

    @property
    def orders_refused(self) -> int:
        return sum(r.count for r in self.engine_rejections)

    @property
    def venue_names(self) -> list[str]:
        return venue_names_of(self.instruments)

    def strategy_name(self, nautilus_id: str) -> str:
        """``id@version`` of the strategy the engine knew as ``nautilus_id`` (else that id)."""
        for strategy in self.strategies:
            if strategy.nautilus_id == nautilus_id:
                return strategy.ref
        return nautilus_id
