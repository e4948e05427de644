"""What a prepared backtest runs: each strategy's engine spec and data needs, and their union.

A request names registry references; a plan is what they resolve to, so the engine adapter
and the analysis never look at a definition again: the bar types to stream (each strategy's
own bar spec, several in one run), the instruments, and for each instrument the one bar
type whose closes mark it (the finest streamed: risk guard, margin check, equity curve).

A strategy on ticks or the book (``market_data``) reads ``-INTERNAL`` bars the engine builds
from them; the plan then streams that data for its instruments instead of bars
(``feeds``), one kind per instrument.
"""

from dataclasses import dataclass, field, replace

from quantdesk.domain.backtest import (
    BacktestRequest,
    StrategyRun,
    StrategySpec,
    VenueSpec,
    venue_names_of,
)
from quantdesk.domain.conversion import RateSource
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.market_data import BarSpec
from quantdesk.domain.market_feeds import MarketData
from quantdesk.domain.risk import RiskConfig


@dataclass(frozen=True)
class PlannedStrategy:
    """One strategy of a plan: the registry version (``ref``, ``content_hash``, empty for a
    strategy run below the registry), the id the engine gives it and what it reads."""

    ref: str
    content_hash: str
    nautilus_id: str
    family: str
    spec: StrategySpec
    instruments: tuple[str, ...]
    bar_types: tuple[str, ...]
    signal_types: tuple[str, ...] = ()
    market_data: MarketData = MarketData.BARS

    @property
    def record(self) -> StrategyRun:
        return StrategyRun(
            ref=self.ref,
            content_hash=self.content_hash,
            nautilus_id=self.nautilus_id,
            family=self.family,
            instruments=list(self.instruments),
            bar_types=list(self.bar_types),
            market_data=self.market_data.value,
        )


def bar_step_ns(bar_type: str) -> int:
    """Length of a bar type's bars (``INSTRUMENT-STEP-AGG-PRICE-EXTERNAL``); 0 if not time bars."""
    parts = bar_type.rsplit("-", 4)
    spec = BarSpec.parse("-".join(parts[1:4]))
    return spec.interval_ns or 0


def instrument_of(bar_type: str) -> str:
    return bar_type.rsplit("-", 4)[0]


def finest_marks(bar_types: tuple[str, ...] | list[str]) -> dict[str, str]:
    """Per instrument, the streamed bar type with the shortest step (ties: the first by name)."""
    marks: dict[str, str] = {}
    for bar_type in sorted(bar_types):
        instrument = instrument_of(bar_type)
        held = marks.get(instrument)
        if held is None or bar_step_ns(bar_type) < bar_step_ns(held):
            marks[instrument] = bar_type
    return dict(sorted(marks.items()))


@dataclass(frozen=True)
class RunPlan:
    """A pinned request and everything the engine needs to run it.

    ``risk``: the request's risk config with constraints keyed by the strategies' engine ids
    (the definitions' own ``risk`` and the request's constraints by reference, translated).
    ``rates``: the FX bars converting instruments quoted in another currency than their
    venue's (found when the range is pinned; see :mod:`quantdesk.domain.conversion`).
    """

    request: BacktestRequest
    strategies: tuple[PlannedStrategy, ...]
    risk: RiskConfig
    rates: tuple[RateSource, ...] = ()
    instruments: tuple[str, ...] = field(init=False)
    bar_types: tuple[str, ...] = field(init=False)
    marks: dict[str, str] = field(init=False)
    feeds: dict[str, MarketData] = field(init=False)
    """Per instrument, what the run streams for it (bars, or the ticks its bars are built
    from)."""

    def __post_init__(self) -> None:
        bar_types = sorted({b for s in self.strategies for b in s.bar_types})
        instruments = sorted(
            {i for s in self.strategies for i in s.instruments}
            | {instrument_of(b) for b in bar_types}
        )
        object.__setattr__(self, "bar_types", tuple(bar_types))
        object.__setattr__(self, "instruments", tuple(instruments))
        object.__setattr__(self, "marks", finest_marks(bar_types))
        object.__setattr__(self, "feeds", _feeds(self.strategies))

    @property
    def tick_feeds(self) -> dict[str, MarketData]:
        """The instruments streamed as ticks or book deltas, by kind."""
        return {i: m for i, m in self.feeds.items() if m is not MarketData.BARS}

    @property
    def start_ns(self) -> int | None:
        return self.request.start_ns

    @property
    def end_ns(self) -> int | None:
        return self.request.end_ns

    @property
    def venue_names(self) -> list[str]:
        return venue_names_of(self.instruments)

    @property
    def starting_equity(self) -> float:
        """Sum of the venues' starting balances (checked to be in one currency)."""
        return float(sum(self.request.venue(v).starting_balance for v in self.venue_names))

    def venue(self, name: str) -> VenueSpec:
        return self.request.venue(name)

    def venue_of(self, instrument_id: str) -> VenueSpec:
        return self.request.venue(instrument_id.rsplit(".", 1)[1])

    @property
    def specs(self) -> list[StrategySpec]:
        return [s.spec for s in self.strategies]

    @property
    def records(self) -> list[StrategyRun]:
        return [s.record for s in self.strategies]

    def with_request(self, request: BacktestRequest) -> "RunPlan":
        """The same plan for another request (every other field carried, derived ones anew)."""
        return replace(self, request=request)

    def with_rates(self, rates: tuple[RateSource, ...]) -> "RunPlan":
        return replace(self, rates=rates)

    def rate_source(self, currency: str, base_currency: str) -> RateSource | None:
        """The rates converting ``currency`` into ``base_currency`` (None: the same, or none)."""
        return next((r for r in self.rates if r.key == (currency, base_currency)), None)


def _feeds(strategies: tuple[PlannedStrategy, ...]) -> dict[str, MarketData]:
    """One kind of market data per instrument: a run streaming both an instrument's bars and
    its ticks would fill its orders against both (two markets for one instrument)."""
    feeds: dict[str, MarketData] = {}
    owners: dict[str, str] = {}
    for strategy in strategies:
        for instrument_id in strategy.instruments:
            held = feeds.setdefault(instrument_id, strategy.market_data)
            if held is not strategy.market_data:
                raise InvalidInputError(
                    f"{instrument_id} would run on {held.value} for {owners[instrument_id]} and "
                    f"on {strategy.market_data.value} for {strategy.ref or strategy.nautilus_id}:"
                    " one run streams one kind of market data per instrument",
                    hint="run the two strategies in separate backtests",
                )
            owners.setdefault(instrument_id, strategy.ref or strategy.nautilus_id)
    return dict(sorted(feeds.items()))
