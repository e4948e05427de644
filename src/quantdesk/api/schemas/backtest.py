"""What ``/backtest`` takes and answers: a run request, its state and progress, its result,
its fills, positions and equity, and two runs compared.

The request is the domain's ``BacktestRequest`` without what only the service sets (the
pinned definitions) or what is the desk's business (engine options: logging, chunking);
value types the domain already bounds (venues, risk, timestamps, seed) are embedded as they
are, so the API refuses exactly what the CLI refuses.
"""

from dataclasses import asdict
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from quantdesk.api.schemas.jobs import JobOut
from quantdesk.api.schemas.strategies import Definition
from quantdesk.domain.backtest import (
    BacktestRequest,
    BacktestResult,
    DataUsed,
    EngineFacts,
    ExecutionSummary,
    FillRecord,
    Metrics,
    PositionRecord,
    StrategyAttribution,
    StrategyRun,
    VenueSpec,
)
from quantdesk.domain.backtest_checks import STRATEGIES_MAX, VENUES_MAX, Seed, Timestamp
from quantdesk.domain.conversion import ConversionUsed
from quantdesk.domain.execution_quality import ExecutionQuality
from quantdesk.domain.expiry import Settlement
from quantdesk.domain.risk import RiskConfig
from quantdesk.domain.rolls import ROLLS_MAX, Roll, RollRule
from quantdesk.domain.runs import RunRecord, RunState
from quantdesk.domain.signals import SignalType
from quantdesk.domain.text import LABEL_MAX_LENGTH, single_line

RUN_ID_MAX_LENGTH = 100
RUN_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
"""A run id (or a unique prefix of one): one plain path component, never ``..``."""
ArtifactFormat = Literal["json", "csv", "parquet"]
REF_ITEM_MAX_LENGTH = 120
SignalTypes = Annotated[
    list[Annotated[str, Field(max_length=40)]], Field(min_length=1, max_length=len(SignalType))
]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BacktestCreate(_Model):
    """One run of one or several registered strategies (one portfolio)."""

    strategies: list[Annotated[str, Field(max_length=REF_ITEM_MAX_LENGTH)]] = Field(
        min_length=1, max_length=STRATEGIES_MAX, description="ID, ID@VERSION or ID@TAG each"
    )
    start_ns: Timestamp | None = Field(default=None, description="first bar close (ns UTC)")
    end_ns: Timestamp | None = Field(default=None, description="last bar close (ns UTC)")
    flat_at_end: bool = False
    trade_until_ns: Timestamp | None = None
    venues: list[VenueSpec] = Field(default_factory=list, max_length=VENUES_MAX)
    seed: Seed = 0
    risk: RiskConfig = Field(default_factory=RiskConfig)
    label: Annotated[str, Field(max_length=LABEL_MAX_LENGTH), AfterValidator(single_line)] = ""
    signals: Literal["none", "all"] | SignalTypes = Field(
        default="none", description="AI signals replayed: none, all, or signal types"
    )
    rolls: list[RollRule] = Field(
        default_factory=list,
        max_length=ROLLS_MAX,
        description="futures chains the family strategies roll along (docs/futures.md)",
    )

    def request(self) -> BacktestRequest:
        """The domain request (its own cross-field checks run here: ``ValidationError``)."""
        return BacktestRequest.model_validate(self.model_dump(mode="python"))


class RunSummaryOut(_Model):
    total_return: float
    sharpe: float | None
    max_drawdown: float
    trade_count: int


class RunOut(_Model):
    """A run's state; progress (0-100) and ETA come from its job while it runs."""

    run_id: str
    state: RunState
    label: str
    strategies: list[str]
    submitted_by: str
    correlation_id: str | None
    job_id: str | None
    created_ns: int
    started_ns: int | None
    finished_ns: int | None
    progress: float = Field(ge=0, le=100)
    eta_seconds: float | None
    message: str | None
    error: str | None
    error_code: str | None
    fingerprint: str | None
    summary: RunSummaryOut | None

    @classmethod
    def of(cls, record: RunRecord, job: JobOut | None) -> "RunOut":
        summary = record.summary
        finished = record.state is RunState.COMPLETED
        return cls(
            run_id=record.run_id,
            state=record.state,
            label=record.label,
            strategies=list(record.strategies),
            submitted_by=record.submitted_by,
            correlation_id=record.correlation_id,
            job_id=record.job_id,
            created_ns=record.created_ns,
            started_ns=record.started_ns,
            finished_ns=record.finished_ns,
            progress=100.0 if finished else (0.0 if job is None else job.progress),
            eta_seconds=None if job is None or finished else job.eta_seconds,
            message=None if job is None else job.message,
            error=record.error,
            error_code=record.error_code,
            fingerprint=record.fingerprint,
            summary=None if summary is None else RunSummaryOut(**summary.model_dump()),
        )


class BacktestAccepted(_Model):
    """Submitted: the run exists (pending) and its job will run it."""

    run_id: str
    job: JobOut


class RunRequestOut(_Model):
    """The request as the run pinned it: exact references, their definitions, the range."""

    strategies: list[str]
    pinned: list[Definition]
    start_ns: int | None
    end_ns: int | None
    flat_at_end: bool
    trade_until_ns: int | None
    venues: list[VenueSpec]
    seed: int
    risk: RiskConfig
    signals: Literal["none", "all"] | list[str]
    label: str
    rolls: list[RollRule] = Field(default_factory=list)

    @classmethod
    def of(cls, request: BacktestRequest) -> "RunRequestOut":
        return cls(
            **request.model_dump(
                include={
                    "strategies",
                    "start_ns",
                    "end_ns",
                    "flat_at_end",
                    "trade_until_ns",
                    "seed",
                    "signals",
                    "label",
                }
            ),
            pinned=request.pinned,
            venues=request.venues,
            risk=request.risk,
            rolls=request.rolls,
        )


class RunResultOut(_Model):
    """A completed run: what it ran on, its metrics, attribution and execution quality."""

    run_id: str
    fingerprint: str
    label: str
    request: RunRequestOut
    strategies: list[StrategyRun]
    instruments: list[str]
    started_at_ns: int
    finished_at_ns: int
    data: list[DataUsed]
    metrics: Metrics
    attribution: list[StrategyAttribution]
    execution: ExecutionSummary | None
    execution_quality: list[ExecutionQuality]
    facts: EngineFacts
    risk_counts: dict[str, int]
    warnings: list[str]
    settlements: list[Settlement] = Field(
        default_factory=list, description="positions settled at a dated contract's expiry"
    )
    rolls: list[Roll] = Field(default_factory=list, description="positions rolled along a chain")
    conversions: list[ConversionUsed] = Field(
        default_factory=list,
        description="the FX rates instruments in another currency than the account's were "
        "converted at",
    )

    @classmethod
    def of(cls, result: BacktestResult) -> "RunResultOut":
        return cls(
            run_id=result.run_id,
            fingerprint=result.fingerprint,
            label=result.request.label,
            request=RunRequestOut.of(result.request),
            strategies=result.strategies,
            instruments=result.instruments,
            started_at_ns=result.started_at_ns,
            finished_at_ns=result.finished_at_ns,
            data=result.data,
            metrics=result.metrics,
            attribution=result.attribution,
            execution=result.execution,
            execution_quality=result.execution_quality,
            facts=result.facts,
            risk_counts=result.risk_counts,
            warnings=result.warnings,
            settlements=result.settlements,
            rolls=result.rolls,
            conversions=result.conversions,
        )


class FillOut(_Model):
    ts_ns: int
    strategy_id: str
    instrument_id: str
    order_id: str
    trade_id: str
    position_id: str
    side: int = Field(description="+1 buy, -1 sell")
    quantity: float
    price: float
    commission: float
    commission_currency: str
    signal_id: str | None
    quote_rate: float = Field(
        default=1.0,
        description="account currency per unit of the instrument's PnL currency at the fill",
    )
    kind: str | None = Field(
        default=None, description='"settlement" at expiry, "roll"; null: the strategy\'s own'
    )

    @classmethod
    def of(cls, fill: FillRecord) -> "FillOut":
        return cls(**asdict(fill))


class PositionOut(_Model):
    strategy_id: str
    instrument_id: str
    position_id: str
    side: int = Field(description="+1 long, -1 short")
    peak_quantity: float
    opened_ns: int
    closed_ns: int
    avg_px_open: float
    avg_px_close: float
    realized_pnl: float
    commissions: float

    @classmethod
    def of(cls, position: PositionRecord) -> "PositionOut":
        return cls(**asdict(position))


class EquityPoint(_Model):
    ts_ns: int
    equity: float
    drawdown: float = Field(description="equity / high-water mark so far - 1 (0 or below)")
    in_market: bool


class RunSide(_Model):
    run_id: str
    fingerprint: str
    label: str
    strategies: list[str]
    metrics: Metrics


class MetricPair(_Model):
    name: str
    a: float | int | None
    b: float | int | None


class RunComparison(_Model):
    """Two runs side by side: every metric, and whether their fills are bit-for-bit equal."""

    a: RunSide
    b: RunSide
    metrics: list[MetricPair]
    same_fingerprint: bool
    same_fills: bool

    @classmethod
    def of(cls, a: BacktestResult, b: BacktestResult, same_fills: bool) -> "RunComparison":
        left, right = a.metrics.model_dump(), b.metrics.model_dump()
        return cls(
            a=_side(a),
            b=_side(b),
            metrics=[MetricPair(name=name, a=left[name], b=right[name]) for name in left],
            same_fingerprint=a.fingerprint == b.fingerprint,
            same_fills=same_fills,
        )


def _side(result: BacktestResult) -> RunSide:
    return RunSide(
        run_id=result.run_id,
        fingerprint=result.fingerprint,
        label=result.request.label,
        strategies=list(result.request.strategies),
        metrics=result.metrics,
    )
