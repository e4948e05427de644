"""Backtests on NautilusTrader's ``BacktestNode``, streaming bars from the catalog.

A prepared :class:`RunPlan` is translated into the engine's own configs (venues, one data
config per streamed bar type, so strategies on different bar specs share one run, importable
strategies); a :class:`RunRecorder` joins the engine before it runs to purge closed orders,
record fills and positions, count the orders the engine refused, and report simulated time;
a :class:`MarginCheck` holds buying power on margin accounts. Venue options map onto the
engine: ``liquidity`` picks the fill model, ``bar_spread`` makes single-sided bars tradable
(:mod:`bar_sides`). Strategies on ticks or the book get those streamed instead of bars and
read the bars the engine builds from them (:mod:`tick_feeds`).
"""

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from nautilus_trader import __version__ as nautilus_version
from nautilus_trader.backtest.config import (
    BacktestDataConfig,
    BacktestEngineConfig,
    BacktestRunConfig,
    BacktestVenueConfig,
    ImportableFeeModelConfig,
    ImportableFillModelConfig,
)
from nautilus_trader.config import (
    ImportableActorConfig,
    LoggingConfig,
    RiskEngineConfig,
)
from nautilus_trader.model.enums import OmsType as NautilusOmsType
from nautilus_trader.model.enums import TradingState as NautilusTradingState
from nautilus_trader.model.identifiers import InstrumentId, Venue
from nautilus_trader.model.objects import MONEY_MAX

from quantdesk.adapters.nautilus.catalog import ParquetCatalog
from quantdesk.adapters.nautilus.expiry import (
    option_stream_ends,
    settlement_modules,
    strategy_configs,
)
from quantdesk.adapters.nautilus.instruments import from_nautilus
from quantdesk.adapters.nautilus.margin import MarginCheck, MarginCheckConfig
from quantdesk.adapters.nautilus.memory import release_freed_memory
from quantdesk.adapters.nautilus.next_open import NextOpenHold, NextOpenHoldConfig, OpenTicksNode
from quantdesk.adapters.nautilus.next_open import hold_instruments as next_open_instruments
from quantdesk.adapters.nautilus.rates import RateBook, join_rate_feed
from quantdesk.adapters.nautilus.recorder import RunRecorder, RunRecorderConfig
from quantdesk.adapters.nautilus.risk_guard import PortfolioRiskGuard, RiskGuardConfig
from quantdesk.adapters.nautilus.signal_data import SIGNAL_CLIENT_ID, SIGNAL_DATA_PATH
from quantdesk.adapters.nautilus.strategy_checks import check_strategy
from quantdesk.adapters.nautilus.tick_feeds import (
    bar_spreads,
    join_feed_actors,
    tick_data_configs,
    venue_execution,
    venue_feeds,
)
from quantdesk.domain.backtest import Liquidity, VenueSpec
from quantdesk.domain.backtest_plan import PlannedStrategy, RunPlan, bar_step_ns, instrument_of
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.instruments import AssetClass, InstrumentSpec
from quantdesk.domain.market_feeds import MarketData, is_internal
from quantdesk.domain.risk import TradingState
from quantdesk.domain.text import shown
from quantdesk.services.ports import EngineRun

_MINUTE_NS = 60_000_000_000
_PROGRESS_STEPS = 200


class NautilusBacktestRunner:
    """quantdesk's ``BacktestRunner`` on the engine, reading the Parquet ``catalog``."""

    def __init__(self, catalog: ParquetCatalog) -> None:
        self._catalog = catalog
        self._root = catalog.root

    @property
    def engine_version(self) -> str:
        return str(nautilus_version)

    def check(self, plan: RunPlan) -> None:
        streamed = set(plan.bar_types)
        instruments = {i: found for i in plan.instruments if (found := self._catalog.instrument(i))}
        for index, strategy in enumerate(plan.strategies):
            name = strategy.ref if strategy.content_hash else None  # registry: id@version
            checked = check_strategy(index, strategy.spec, streamed, instruments, name)
            for bar_type, need in checked:
                self._check_warmup(index, strategy, plan, bar_type, need)

    def _check_warmup(
        self, index: int, strategy: PlannedStrategy, plan: RunPlan, bar_type: str, need: int
    ) -> None:
        """A strategy that cannot finish warming up in the run's bars would trade nothing.

        Bars the engine builds from ticks are counted as the range's whole steps (time bars;
        a tick bar's count depends on the ticks, and is not checked)."""
        if plan.start_ns is None or plan.end_ns is None:
            return  # checked again once the range is pinned
        if is_internal(bar_type):
            step = bar_step_ns(bar_type)
            if step == 0:
                return
            have = (plan.end_ns - plan.start_ns) // step
        else:
            have, _, _ = self._catalog.bar_span(bar_type, plan.start_ns, plan.end_ns)
        if need > have:
            raise InvalidInputError(
                f"strategy {index + 1} ({strategy.ref or strategy.spec.strategy_path}) needs "
                f"{need:,} bars of {bar_type} to warm up, the run has {have:,}: it could not trade",
                hint="shorten the strategy's look-back or widen the run's range",
            )

    def run(self, plan: RunPlan, on_progress: Callable[[int], None] | None = None) -> EngineRun:
        self.check(plan)
        try:
            return self._run(plan, on_progress)
        finally:
            # Here, not inside ``_run``: only once its frame is gone are the node, the engine
            # and the actors unreachable, so the memory they held can go back to the system.
            release_freed_memory()

    def _run(self, plan: RunPlan, on_progress: Callable[[int], None] | None) -> EngineRun:
        request = plan.request
        config = self._run_config(plan)
        spreads = bar_spreads(plan)
        fill_at = {v: request.venue(v).fill_at for v in plan.venue_names}
        opens = next_open_instruments(fill_at, plan.instruments)
        node = OpenTicksNode([config], spreads, [plan.marks[i] for i in opens])
        try:
            with _engine_refusals("building"):
                node.build()
            engine = node.get_engine(config.id)
            assert engine is not None  # built just above
            recorder, guard = self._join(plan, engine, on_progress)
            started = time.perf_counter()
            with _engine_refusals("running"):
                (result,) = node.run()
            wall = time.perf_counter() - started
            return engine_run_of(plan, engine, recorder, guard, int(result.iterations), wall)
        finally:
            engine = node.get_engine(config.id)
            if engine is not None:
                engine.cache.reset()
            node.dispose()

    def _join(
        self, plan: RunPlan, engine: Any, on_progress: Callable[[int], None] | None
    ) -> tuple[RunRecorder, PortfolioRiskGuard]:
        """quantdesk's actors on a built engine, in their order: the rate feed (when a currency
        is converted), the recorder, the portfolio
        risk guard, the next-open hold (where a venue fills at the next open) and the margin
        check in front of the risk engine. Both runners join them here."""
        request = plan.request
        span = (request.end_ns or 0) - (request.start_ns or 0)
        rates = join_rate_feed(engine, plan, self._catalog)
        recorder = RunRecorder(
            RunRecorderConfig(
                component_id="QuantdeskRecorder",
                purge_interval_ns=request.engine.purge_interval_minutes * _MINUTE_NS,
                progress_interval_ns=max(span // _PROGRESS_STEPS, _MINUTE_NS),
                purge=request.engine.purge,
            ),
            on_progress=on_progress,
            rates=rates,
        )
        engine.add_actor(recorder)
        recorder.built = join_feed_actors(plan, engine)
        guard = self._risk_guard(plan, engine, rates)
        engine.add_actor(guard)
        fill_at = {v: request.venue(v).fill_at for v in plan.venue_names}
        opens = next_open_instruments(fill_at, plan.instruments)
        forward, hold = engine.kernel.risk_engine.execute, None
        if opens:
            hold = NextOpenHold(NextOpenHoldConfig(), forward=forward, instruments=opens)
            engine.add_actor(hold)
            forward = hold.execute
        margin = MarginCheck(
            MarginCheckConfig(component_id="QuantdeskMarginCheck"),
            forward=forward,
            bar_types=dict(plan.marks),
            oms_types={
                v: getattr(NautilusOmsType, request.venue(v).oms_type.value)
                for v in plan.venue_names
            },
            taker_fees={v: request.venue(v).taker_fee for v in plan.venue_names},
            rates=rates,
        )
        engine.add_actor(margin)
        if hold is not None:
            hold.recheck = margin.refusal  # again at the open, with earlier orders pending
        return recorder, guard

    def _risk_guard(self, plan: RunPlan, engine: Any, rates: RateBook) -> PortfolioRiskGuard:
        increments = {}
        specs: dict[str, InstrumentSpec] = {}
        for instrument_id in plan.instruments:
            instrument = engine.cache.instrument(InstrumentId.from_str(instrument_id))
            if instrument is not None:
                increments[instrument_id] = instrument.size_increment.as_decimal()
                spec = from_nautilus(instrument)
                if spec is not None:
                    specs[instrument_id] = spec
        risk_engine = engine.kernel.risk_engine

        def set_engine_state(state: TradingState) -> None:
            risk_engine.set_trading_state(getattr(NautilusTradingState, state.value))

        return PortfolioRiskGuard(
            RiskGuardConfig(component_id="QuantdeskRiskGuard"),
            risk=plan.risk,
            bar_types=dict(plan.marks),
            starting_equity=plan.starting_equity,
            size_increments=increments,
            set_engine_state=set_engine_state,
            specs=specs,
            base_currencies={i: plan.venue_of(i).base_currency for i in plan.instruments},
            rate_of=lambda _, currency: rates.of_currency(currency),  # the same rates, now
        )

    def _bar_data(self, plan: RunPlan, bar_type: str, ends: dict[str, int]) -> BacktestDataConfig:
        """Bounded only where the catalog holds bars outside the run's range (the node reads
        unbounded configs without a filter, which holds less memory; see ``SignalReplayNode``)
        or where an instrument's stream ``ends`` early (see ``option_stream_ends``)."""
        start, end = plan.start_ns, plan.end_ns
        instrument_id = instrument_of(bar_type)
        if instrument_id in ends and end is not None:
            end = min(end, ends[instrument_id])
        bar_spec = bar_type.removeprefix(f"{instrument_id}-").removesuffix("-EXTERNAL")
        whole = (
            start is not None
            and end is not None
            and instrument_id not in ends
            and self._catalog.lies_within(bar_type, start, end)
        )
        return BacktestDataConfig(
            catalog_path=str(self._root),
            data_cls="nautilus_trader.model.data:Bar",
            instrument_id=instrument_id,
            bar_spec=bar_spec,
            start_time=None if whole else start,
            end_time=None if whole else end,
        )

    def _run_config(self, plan: RunPlan) -> BacktestRunConfig:
        request = plan.request
        level = request.engine.log_level
        specs = {i: s for i in plan.instruments if (s := self._catalog.instrument(i))}
        dated = {i for i, s in specs.items() if s.is_dated}
        ends = option_stream_ends(specs.values())
        engine = BacktestEngineConfig(
            trader_id="QUANTDESK-001",
            strategies=strategy_configs(plan, specs),
            logging=LoggingConfig(
                log_level="ERROR" if level == "OFF" else level, bypass_logging=level == "OFF"
            ),
            risk_engine=_engine_risk(plan, _linear_in_base(plan, specs)),
            run_analysis=False,
        )
        data = [self._bar_data(plan, b, ends) for b in plan.bar_types if not is_internal(b)]
        data += tick_data_configs(self._root, plan)
        if request.replays_signals:  # after the bars: at equal ts_init, bars come first
            data.append(_signal_data_config(self._root, plan))
        return BacktestRunConfig(
            engine=engine,
            venues=[
                _venue(
                    request.venue(name),
                    request.seed,
                    venue_feeds(plan, name),
                    settlement_modules(plan, name, dated),
                )
                for name in plan.venue_names
            ],
            data=data,
            chunk_size=request.engine.chunk_size,
            dispose_on_completion=False,
            raise_exception=True,
            start=request.start_ns,
            end=request.end_ns,
        )


@contextmanager
def _engine_refusals(stage: str) -> Iterator[None]:
    """What the engine still refuses of a checked request is a clear error, not a traceback.

    Its checks raise ``ValueError``, ``TypeError``, ``OverflowError`` or ``RuntimeError``
    (a duplicate strategy id, a value out of range); anything else is a bug and propagates.
    """
    try:
        yield
    except (ValueError, TypeError, OverflowError, RuntimeError) as error:
        raise InvalidInputError(
            f"the engine refused the run while {stage} it: {shown(str(error), 300)}",
            hint="a value of the request the checks before the run let through: please "
            "report it with the request",
        ) from error


def _signal_data_config(root: Path, plan: RunPlan) -> BacktestDataConfig:
    """The request's signals: its instruments, its range, its types (``filter_expr``)."""
    request = plan.request
    types = request.signal_types
    filter_expr = " | ".join(f'(field("signal_type") == "{t}")' for t in types) if types else None
    return BacktestDataConfig(
        catalog_path=str(root),
        data_cls=SIGNAL_DATA_PATH,
        client_id=SIGNAL_CLIENT_ID,
        instrument_ids=list(plan.instruments),
        start_time=request.start_ns,
        end_time=request.end_ns,
        filter_expr=filter_expr,
    )


def _linear_in_base(plan: RunPlan, specs: Mapping[str, InstrumentSpec]) -> set[str]:
    """The instruments whose engine notional (quantity x price x multiplier, in the quote
    currency) is the gate's order notional: linear, quoted in the venue's currency."""
    return {
        instrument_id
        for instrument_id, spec in specs.items()
        if spec.asset_class is not AssetClass.OPTION
        and not spec.is_inverse
        and spec.currency == plan.venue_of(instrument_id).base_currency
    }


def _engine_risk(plan: RunPlan, linear_in_base: set[str]) -> RiskEngineConfig:
    """The engine's own risk engine as a second line (it skips notional checks for margin
    accounts and unquoted market orders, so the quantdesk gate alone must hold every limit).

    The engine's notional limit is per instrument in its quote currency, on quantity x price
    x multiplier; the request's is in the base currency, on the gate's unit values. They agree
    for linear instruments quoted in the base currency (a future's price x multiplier too),
    which get it; the others are left out rather than converted at one rate for the whole run
    (a foreign quote's rate moves; an option's gate notional is delta-adjusted, the engine's
    its premium): the gate alone holds the limit for them."""
    notional = plan.risk.limits.max_order_notional
    rate = plan.risk.max_order_submit_rate
    if notional is not None and notional > Decimal(str(MONEY_MAX)):
        notional = None  # beyond any amount the engine holds: no order reaches it anyway
    per_order = (
        {i: int(notional) for i in plan.instruments if i in linear_in_base} if notional else {}
    )
    if rate is None:
        return RiskEngineConfig(bypass=False, max_notional_per_order=per_order)
    return RiskEngineConfig(
        bypass=False, max_notional_per_order=per_order, max_order_submit_rate=rate
    )


def _venue(
    spec: VenueSpec,
    seed: int,
    feeds: frozenset[MarketData],
    modules: list[ImportableActorConfig] | None = None,
) -> BacktestVenueConfig:
    """The venue as the engine simulates it; ``feeds``: what its instruments stream (trades
    move its market, the book makes it an L2 book; see :mod:`tick_feeds`); ``modules``: its
    simulation modules (the settlement of dated contracts at expiry)."""
    fee_model = None
    rates = spec.maker_fee is not None or spec.taker_fee is not None
    if rates or spec.commission_per_unit is not None:
        fee_model = ImportableFeeModelConfig(
            fee_model_path="quantdesk.adapters.nautilus.fees:VenueRateFeeModel",
            config_path="quantdesk.adapters.nautilus.fees:VenueRateFeeModelConfig",
            config={
                "maker_fee": float(spec.maker_fee or 0) if rates else None,
                "taker_fee": float(spec.taker_fee or 0) if rates else None,
                "commission_per_unit": float(spec.commission_per_unit or 0),
                "currency": spec.base_currency,
            },
        )
    return BacktestVenueConfig(
        name=spec.name,
        oms_type=spec.oms_type.value,
        account_type=spec.account_type.value,
        base_currency=spec.base_currency,
        starting_balances=[f"{spec.starting_balance} {spec.base_currency}"],
        default_leverage=float(spec.default_leverage),
        fill_model=ImportableFillModelConfig(
            fill_model_path="quantdesk.adapters.nautilus.fills:UnlimitedLiquidityFillModel"
            if spec.liquidity is Liquidity.UNLIMITED
            else "nautilus_trader.backtest.models:FillModel",
            config_path="nautilus_trader.backtest.config:FillModelConfig",
            config={
                "prob_fill_on_limit": spec.fill_model.prob_fill_on_limit,
                "prob_slippage": spec.fill_model.prob_slippage,
                "random_seed": seed,
            },
        ),
        fee_model=fee_model,
        modules=modules,
        **venue_execution(feeds),
    )


def engine_run_of(
    plan: RunPlan,
    engine: Any,
    recorder: RunRecorder,
    guard: PortfolioRiskGuard,
    iterations: int,
    wall: float,
) -> EngineRun:
    """What the engine did, as the port reports it (both runners end here)."""
    balances: dict[str, float] = {}
    for venue in plan.venue_names:
        account = engine.portfolio.account(Venue(venue))
        if account is None:
            continue
        for currency, money in account.balances_total().items():
            balances[currency.code] = balances.get(currency.code, 0.0) + money.as_double()
    return EngineRun(
        fills=recorder.fills,
        positions=recorder.positions,
        events_processed=iterations,
        orders=len(set(recorder.fills.column("order_id"))),
        wall_seconds=wall,
        balances=balances,
        risk_events=list(guard.events),
        signal_uses=list(recorder.signal_uses),
        signal_decisions=list(recorder.signal_decisions),
        engine_rejections=recorder.refusals,
        orders_accepted=recorder.orders_accepted,
        built_bars={} if recorder.built is None else recorder.built.columns(),
    )
