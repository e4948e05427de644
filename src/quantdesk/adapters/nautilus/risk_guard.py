"""The portfolio risk layer inside the engine: the gate every order asks, and its ledger.

One actor per engine holds what the pure rules in ``domain/risk.py`` need: a position ledger
kept from fill events (and reconciled against the engine's own positions after every fill),
mark prices, equity with its high-water mark and start-of-day value, trading states per
portfolio, strategy and instrument, and the kill-switch schedule. Strategies reach it through
the message bus endpoint ``GATE_ENDPOINT``, in backtests and live alike.

Every amount is in the account's base currency: an instrument's exposure is its position
times its unit value (price x multiplier x rate, an option's delta-adjusted notional; see
:mod:`unit_values`), and the ledger's equity values positions and cash the same way. An order
that needs a value the run does not have yet (no rate for its currency, no underlying price)
is denied with the reason, never valued at 0 or at a rate of 1.

Equity is sampled at every order and every ``check_interval`` of simulated time (default an
hour; not every bar or fill: that would cost more than the gate itself), so a drawdown breach
is seen at the latest by the next order, which is what the gate guards; open orders are
cancelled and positions flattened within the interval.
"""

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from nautilus_trader.common.actor import Actor
from nautilus_trader.common.events import TimeEvent
from nautilus_trader.config import ActorConfig
from nautilus_trader.model.data import BarType
from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.events import OrderFilled
from nautilus_trader.model.identifiers import InstrumentId, StrategyId

from quantdesk.adapters.nautilus.unit_values import (
    LedgerCash,
    RateOf,
    UnitValues,
    UnvaluedError,
    base_only,
)
from quantdesk.domain.expiry import window_breach
from quantdesk.domain.instruments import AssetClass, InstrumentSpec
from quantdesk.domain.risk import (
    FLATTEN_TOPIC,
    GATE_ENDPOINT,
    BreachAction,
    GateRequest,
    KillSwitchEvent,
    KillSwitchScope,
    OrderIntent,
    RiskAction,
    RiskConfig,
    RiskDecision,
    RiskEvent,
    RiskEventKind,
    RiskLimits,
    RiskRule,
    RiskState,
    TradingState,
    check_order,
    reduces_risk,
)
from quantdesk.domain.risk_screen import (
    EquityMarks,
    ScreenBook,
    ScreenLimits,
    clearly_approved,
    portfolio_loss_breach,
)
from quantdesk.domain.risk_values import AssetClassLimits

DAY_NS = 86_400_000_000_000
_NO_SCREEN = ScreenLimits()
_CHECK_TIMER = "quantdesk-risk-check"


class RiskGuardConfig(ActorConfig, frozen=True, kw_only=True):
    check_interval_ns: int = 60 * 60_000_000_000


class PortfolioRiskGuard(Actor):
    def __init__(
        self,
        config: RiskGuardConfig,
        risk: RiskConfig,
        bar_types: dict[str, str],
        starting_equity: float,
        size_increments: dict[str, Decimal],
        set_engine_state: Callable[[TradingState], None] | None = None,
        specs: Mapping[str, InstrumentSpec] | None = None,
        base_currencies: Mapping[str, str] | None = None,
        rate_of: RateOf | None = None,
    ) -> None:
        """``specs``: the run's instruments (none: every one is valued at its price, as in a
        base-currency, multiplier-1 run); ``base_currencies``: each instrument's account
        currency; ``rate_of``: the quote->base rates now (none: only the base currency)."""
        super().__init__(config)
        bases = dict(base_currencies or {})
        values = (
            UnitValues(specs, bases, rate_of or base_only(bases), self._mark_decimal)
            if specs
            else None
        )
        self._values = values
        self._valued = values is not None and not values.all_plain
        self._classes: dict[str, AssetClass] = {} if values is None else values.classes
        self._options = bool(values is not None and values.options)
        limits = risk.limits
        scopes: list[RiskLimits | AssetClassLimits] = [limits, *limits.asset_classes.values()]
        self._reads_exposure = any(
            rules.max_gross_exposure is not None
            or rules.max_net_exposure is not None
            or rules.max_leverage is not None
            for rules in scopes
        )
        self._reads_notional = any(
            c.max_order_notional is not None for c in [limits, *risk.constraints.values()]
        )
        self._risk = risk
        self._no_limit = risk.sets_no_limit
        self._watch = risk.watches_equity
        self._counts_orders = any(
            c.max_open_orders is not None for c in [risk.limits, *risk.constraints.values()]
        )
        self._bar_types = {i: BarType.from_str(b) for i, b in bar_types.items()}
        self._starting_equity = starting_equity
        self._increments = size_increments
        self._set_engine_state = set_engine_state
        self._check_interval = timedelta(microseconds=config.check_interval_ns // 1_000)
        self.ledger: dict[str, dict[str, Decimal]] = {}
        self._cash = LedgerCash(values)
        self._marks: dict[str, float] = {}
        self._equity_marks = EquityMarks.at_start(starting_equity)
        self._portfolio_state = TradingState.ACTIVE
        self._breach_is_daily = False
        self._strategy_states: dict[str, TradingState] = {}
        self._instrument_states: dict[str, TradingState] = {}
        self.events: list[RiskEvent] = []
        self._ids: dict[tuple[str, str], tuple[InstrumentId, StrategyId]] = {}
        self._strategy_keys: dict[str, StrategyId] = {}
        self._sampled_at = -1
        self._sampled_equity = starting_equity
        self._sampled_strategies: dict[str, float] = {}
        self._float_book: dict[str, dict[str, float]] = {}  # the ledger as floats, for marking
        self._breach_state = (
            TradingState.HALTED if risk.on_breach is BreachAction.HALTED else TradingState.REDUCING
        )
        self._decimal_marks: dict[str, tuple[float, Decimal]] = {}
        self._screen_limits = ScreenLimits.of(risk.limits)
        self._screen_constraints = {s: ScreenLimits.of(c) for s, c in risk.constraints.items()}
        self._windows: dict[str, tuple[int, int] | None] = {}  # dated contracts' windows

    # lifecycle ------------------------------------------------------------------------

    def on_start(self) -> None:
        self.msgbus.register(endpoint=GATE_ENDPOINT, handler=self._gate)
        self.msgbus.subscribe(topic="events.fills.*", handler=self._on_fill)
        if self._risk.watches_equity:
            self.clock.set_timer(_CHECK_TIMER, self._check_interval, callback=self._on_check)
        for index, switch in enumerate(self._risk.schedule):
            moment = datetime.fromtimestamp(switch.ts_ns / 1e9, tz=UTC)
            self.clock.set_time_alert(
                f"quantdesk-kill-{index}", moment, callback=self._switch_handler(switch)
            )

    def on_stop(self) -> None:
        for strategy_id, book in self.ledger.items():
            for instrument_id in book:
                self._reconcile(strategy_id, instrument_id, self.clock.timestamp_ns())

    # the gate -------------------------------------------------------------------------

    def _gate(self, request: GateRequest) -> None:
        if not self._risk.gate:
            request.decision = RiskDecision(RiskAction.APPROVE, request.quantity, [])
            return
        now = self._clock_now()
        if self._outside_window(request, now):
            return
        if (
            self._no_limit
            and self._portfolio_state is TradingState.ACTIVE
            and not self._strategy_states
            and not self._instrument_states
        ):  # no limit and nothing halted: there is no rule that could stop it
            request.decision = RiskDecision(RiskAction.APPROVE, request.quantity, [])
            return
        if self._no_limit:  # only trading states can stop it: skip valuing the book
            decision = check_order(
                OrderIntent(
                    request.strategy_id,
                    request.instrument_id,
                    request.side,
                    request.quantity,
                    Decimal(1),
                ),
                self._states_only,
            )
            request.decision = decision
            if decision.action is not RiskAction.APPROVE:
                self._record_decision(now, request, decision)
            return
        pending = self._pending(request.strategy_id)
        held = self.ledger.get(request.strategy_id, {}).get(request.instrument_id, Decimal(0))
        held += pending.get(request.instrument_id, Decimal(0))
        reducing = reduces_risk(held, request.side, request.quantity)
        if not reducing:  # loss and drawdown rules only stop orders that add risk
            self._sample(now)
        price = request.limit_price or self._mark_decimal(request.instrument_id)
        if price is None or price <= 0:
            self._deny(request, now, "no_price", "no market price yet to value the order")
            return
        try:
            unit, units = self._units(request, price, now, pending, reducing)
        except UnvaluedError as unvalued:
            self._deny(request, now, unvalued.rule, unvalued.detail)
            return
        if self._screen(request, price, unit, reducing, now, pending, units):
            request.decision = RiskDecision(RiskAction.APPROVE, request.quantity, [])
            return
        intent = OrderIntent(
            strategy_id=request.strategy_id,
            instrument_id=request.instrument_id,
            side=request.side,
            quantity=request.quantity,
            price=price,
            size_increment=self._increments.get(request.instrument_id, Decimal(1)),
            ts_ns=now,
            signal_id=request.signal_id,
            unit_value=unit,
            asset_class=self._classes.get(request.instrument_id),
        )
        state = self._book_only if reducing else self._state(units)
        if pending:
            state = replace(
                state, positions=_with_pending(state.positions, request.strategy_id, pending)
            )
        decision = check_order(
            intent,
            state,
            self._risk.constraints.get(request.strategy_id),
            self._risk.limits,
        )
        request.decision = decision
        if decision.action is not RiskAction.APPROVE:
            premium = self._premium_after(request, price, decision.quantity, state, pending)
            self._record_decision(now, request, decision, premium)

    def _units(
        self,
        request: GateRequest,
        price: Decimal,
        now: int,
        pending: dict[str, Decimal],
        reducing: bool,
    ) -> tuple[Decimal | None, dict[str, Decimal]]:
        """The order's unit value (base currency) at its price, and those of the instruments
        held at their marks, where they are not the price itself and a configured rule reads
        them (None and empty when every instrument of the run is plain). An order that only
        reduces is judged on its own notional alone, so nothing else held can stop it.
        Raises ``UnvaluedError``."""
        if not self._valued:
            return None, {}
        assert self._values is not None
        exposure = self._reads_exposure and not reducing
        units: dict[str, Decimal] = {}
        if exposure:
            held = {i for b in self.ledger.values() for i, q in b.items() if q} | set(pending)
            marks = {i: m for i in held if (m := self._mark_decimal(i)) is not None}
            units = self._values.units(held, now, marks)
        order = request.instrument_id
        if self._values.is_plain(order) or not (exposure or self._reads_notional):
            return None, units
        return self._values.unit(order, price, now), units  # at its own price (a limit's)

    def _premium_after(
        self,
        request: GateRequest,
        price: Decimal,
        approved: Decimal,
        state: RiskState,
        pending: dict[str, Decimal],
    ) -> str:
        """The options' premium at risk with the order at its approved quantity ('' when the
        run has no options; an option without a price counts 0)."""
        if not self._options:
            return ""
        assert self._values is not None
        try:
            held = {i for book in state.positions.values() for i in book} | set(pending)
            marks = {i: m for i in held if (m := self._mark_decimal(i)) is not None}
            marks[request.instrument_id] = price
            premiums = self._values.premiums(held | {request.instrument_id}, marks)
        except UnvaluedError:
            return ""
        book = _with_pending(
            state.positions, request.strategy_id, {request.instrument_id: request.side * approved}
        )
        return str(replace(state, positions=book, premiums=premiums).premium_at_risk())

    def _outside_window(self, request: GateRequest, now: int) -> bool:
        """A dated contract outside activation..expiration: denied with the reason (the
        engine would reject it too, as a venue refusal that says less)."""
        if request.instrument_id not in self._windows:
            instrument = self.cache.instrument(InstrumentId.from_str(request.instrument_id))
            expiration = getattr(instrument, "expiration_ns", None)
            self._windows[request.instrument_id] = (
                None if expiration is None else (int(instrument.activation_ns), int(expiration))
            )
        window = self._windows[request.instrument_id]
        breach = None if window is None else window_breach(now, *window)
        if breach is None:
            return False
        rule, detail = breach
        self._deny(request, now, rule.value, f"{request.instrument_id} {detail}")
        return True

    def _deny(self, request: GateRequest, now: int, rule: str, detail: str) -> None:
        """Deny an order the rules cannot judge (no price, no value, outside its window),
        recording the reason: a denial with no breach to name."""
        request.decision = RiskDecision(action=RiskAction.DENY, quantity=Decimal(0), breaches=[])
        self._record(
            now,
            RiskEventKind.DENY,
            request.strategy_id,
            request.instrument_id,
            rule,
            detail,
            request.quantity,
            Decimal(0),
        )

    def _pending(self, strategy_id: str) -> dict[str, Decimal]:
        """The strategy's orders sent and not yet done, signed, per instrument.

        Orders fill after the strategy's handler returns (the venue processes them after the
        event that made the strategy decide), so within one bar the ledger has not seen the
        orders sent before: at a flip, the entry would look like a reduction of the position
        the exit is closing, and two entries would each pass a position limit meant for one.
        """
        pending: dict[str, Decimal] = {}
        for order in self.cache.orders(strategy_id=self._strategy_key(strategy_id)):
            if order.is_closed:
                continue
            leaves = order.leaves_qty.as_decimal()
            if leaves:
                key = order.instrument_id.value
                signed = leaves if order.side == OrderSide.BUY else -leaves
                pending[key] = pending.get(key, Decimal(0)) + signed
        return {i: q for i, q in pending.items() if q}

    def _strategy_key(self, strategy_id: str) -> StrategyId:
        key = self._strategy_keys.get(strategy_id)
        if key is None:
            key = self._strategy_keys[strategy_id] = StrategyId(strategy_id)
        return key

    def _screen(
        self,
        request: GateRequest,
        price: Decimal,
        unit: Decimal | None,
        reducing: bool,
        now: int,
        pending: dict[str, Decimal],
        units: dict[str, Decimal],
    ) -> bool:
        """The float screen of ``domain/risk_screen.py``; False sends the order to the exact
        check, which also explains any breach."""
        active = TradingState.ACTIVE
        if (
            self._portfolio_state is not active
            or self._strategy_states.get(request.strategy_id, active) is not active
            or self._instrument_states.get(request.instrument_id, active) is not active
            or request.quantity % self._increments.get(request.instrument_id, Decimal(1))
        ):
            return False
        change, drawdown = self._strategy_losses(now) if not reducing else ({}, {})
        book = ScreenBook(
            equity=self._equity_at(now),
            start_of_day_equity=self._equity_marks.start_of_day,
            high_water_mark=self._equity_marks.high_water_mark,
            strategy_equity_change_today=change,
            strategy_drawdown_pct=drawdown,
            positions=self._float_book
            if not pending
            else _with_pending_floats(self._float_book, request.strategy_id, pending),
            prices={i: m for i in self._bar_types if (m := self._mark(i)) is not None},
            open_orders=self._open_orders(),
            unit_values={i: float(v) for i, v in units.items()},
            asset_classes=self._classes,
        )
        return clearly_approved(
            request.strategy_id,
            request.instrument_id,
            request.side,
            float(request.quantity),
            float(price),
            reducing,
            book,
            self._screen_constraints.get(request.strategy_id, _NO_SCREEN),
            self._screen_limits,
            unit_value=None if unit is None else float(unit),
            asset_class=self._classes.get(request.instrument_id),
        )

    @property
    def _book_only(self) -> RiskState:
        """Positions and states: all a risk-reducing order is judged on."""
        zero = Decimal(0)
        return RiskState(
            equity=zero,
            start_of_day_equity=zero,
            high_water_mark=zero,
            positions=self.ledger,
            open_orders=self._open_orders(),
            portfolio_state=self._portfolio_state,
            strategy_states=self._strategy_states,
            instrument_states=self._instrument_states,
        )

    def _open_orders(self) -> dict[str, int]:
        if not self._counts_orders:
            return {}
        return {s: self.cache.orders_open_count(strategy_id=StrategyId(s)) for s in self.ledger}

    @property
    def _states_only(self) -> RiskState:
        """A book with nothing in it but the trading states (when no limit is set)."""
        zero = Decimal(0)
        return RiskState(
            equity=zero,
            start_of_day_equity=zero,
            high_water_mark=zero,
            portfolio_state=self._portfolio_state,
            strategy_states=self._strategy_states,
            instrument_states=self._instrument_states,
        )

    def _clock_now(self) -> int:
        return int(self.clock.timestamp_ns())

    def _record_decision(
        self, now: int, request: GateRequest, decision: RiskDecision, premium: str = ""
    ) -> None:
        kind = RiskEventKind.DENY if decision.action is RiskAction.DENY else RiskEventKind.REDUCE
        for breach in decision.breaches:
            self._record(
                now,
                kind,
                request.strategy_id,
                request.instrument_id,
                breach.rule.value,
                f"{breach.scope}: {breach.detail} (limit {breach.limit}, value {breach.value})",
                request.quantity,
                decision.quantity,
                scope=breach.scope,
                premium_at_risk=premium,
            )

    def _state(self, units: Mapping[str, Decimal]) -> RiskState:
        """The book for the pure rules; parts no configured rule reads are left empty.

        ``units``: the unit values that are not the mark itself (``_units``)."""
        now = self._clock_now()
        equity = self._equity_at(now)
        change, drawdown = self._strategy_losses(now)
        strategy_change = {s: Decimal(repr(v)) for s, v in change.items()}
        strategy_drawdown = {s: Decimal(repr(v)) for s, v in drawdown.items()}
        open_orders = self._open_orders()
        return RiskState(
            equity=Decimal(repr(equity)),
            start_of_day_equity=Decimal(repr(self._equity_marks.start_of_day)),
            high_water_mark=Decimal(repr(self._equity_marks.high_water_mark)),
            strategy_equity_change_today=strategy_change,
            strategy_drawdown_pct=strategy_drawdown,
            positions=self.ledger,
            prices={i: d for i in self._bar_types if (d := self._mark_decimal(i)) is not None},
            open_orders=open_orders,
            portfolio_state=self._portfolio_state,
            strategy_states=self._strategy_states,
            instrument_states=self._instrument_states,
            unit_values=units,
            asset_classes=self._classes,
        )

    # marks, equity, breaches ----------------------------------------------------------

    def _equity_at(self, now: int) -> float:
        return self._sampled_equity if now == self._sampled_at else self._equity()

    def _strategy_losses(self, now: int) -> tuple[dict[str, float], dict[str, float]]:
        """Each strategy's equity change today and drawdown from its high-water mark (empty
        when no loss rule is set): what both the exact gate and its float screen read."""
        change: dict[str, float] = {}
        drawdown: dict[str, float] = {}
        if not self._watch:
            return change, drawdown
        sampled = self._sampled_strategies if now == self._sampled_at else {}
        values = {s: sampled[s] if s in sampled else self._strategy_equity(s) for s in self.ledger}
        return self._equity_marks.strategy_losses(values)

    def _mark(self, instrument_id: str) -> float | None:
        bar_type = self._bar_types.get(instrument_id)
        bar = self.cache.bar(bar_type) if bar_type is not None else None
        if bar is not None:
            self._marks[instrument_id] = bar.close.as_double()
        return self._marks.get(instrument_id)

    def _mark_decimal(self, instrument_id: str) -> Decimal | None:
        mark = self._mark(instrument_id)
        if mark is None:
            return None
        cached = self._decimal_marks.get(instrument_id)
        if cached is None or cached[0] != mark:
            cached = self._decimal_marks[instrument_id] = (mark, Decimal(repr(mark)))
        return cached[1]

    def _equity(self) -> float:
        return self._starting_equity + sum(
            self._strategy_equity(s) - self._starting_equity for s in self.ledger
        )

    def _strategy_equity(self, strategy_id: str) -> float:
        book = self._float_book.get(strategy_id, {})
        return self._cash.equity(strategy_id, self._starting_equity, book, self._mark)

    def _sample(self, now: int) -> None:
        """Roll the day, raise the high-water marks, and act on breaches."""
        if not self._watch or now == self._sampled_at:
            return
        self._sampled_at = now
        self._sampled_strategies = {s: self._strategy_equity(s) for s in self.ledger}
        equity = self._starting_equity + sum(
            v - self._starting_equity for v in self._sampled_strategies.values()
        )
        self._sampled_equity = equity
        new_day = self._equity_marks.observe(now // DAY_NS, equity, self._sampled_strategies)
        if new_day and self._breach_is_daily and self._portfolio_state is not TradingState.ACTIVE:
            self._set_portfolio(
                TradingState.ACTIVE,
                now,
                RiskEventKind.RELEASE,
                "new_day",
                "daily loss limit resets at the start of the day",
            )
        self._check_breaches(now, equity)

    def _check_breaches(self, now: int, equity: float) -> None:
        if self._portfolio_state is not TradingState.ACTIVE:
            return
        breach = portfolio_loss_breach(equity, self._equity_marks, self._screen_limits)
        if breach is None:
            return
        rule, value = breach
        limit = getattr(self._risk.limits, rule.value)
        what = "drawdown" if rule is RiskRule.MAX_DRAWDOWN_PCT else "daily loss"
        number = f"{value:.2f}" if rule is RiskRule.MAX_DAILY_LOSS else f"{value:.6f}"
        self._breach(
            now,
            self._breach_state,
            rule.value,
            f"{what} {number} >= {limit}",
            daily=rule is not RiskRule.MAX_DRAWDOWN_PCT,
        )

    def _breach(self, now: int, state: TradingState, rule: str, detail: str, daily: bool) -> None:
        kind = RiskEventKind.HALT if state is TradingState.HALTED else RiskEventKind.REDUCING
        self._breach_is_daily = daily
        self._set_portfolio(state, now, kind, rule, detail)
        if self._risk.flatten_on_breach and state is TradingState.REDUCING:
            self.msgbus.publish(topic=FLATTEN_TOPIC, msg="portfolio")

    def _set_portfolio(
        self, state: TradingState, now: int, kind: RiskEventKind, rule: str, detail: str
    ) -> None:
        self._portfolio_state = state
        self._record(now, kind, "", "", rule, detail, scope="portfolio")
        if state is not TradingState.ACTIVE:
            self._cancel_open_orders(None)
        if self._set_engine_state is not None:
            self._set_engine_state(state)

    def _cancel_open_orders(self, strategy_id: str | None) -> None:
        strategy = StrategyId(strategy_id) if strategy_id else None
        for order in self.cache.orders_open(strategy_id=strategy):
            self.cancel_order(order)

    def _on_check(self, event: TimeEvent) -> None:
        self._sample(event.ts_event)

    # kill switch ----------------------------------------------------------------------

    def _switch_handler(self, switch: KillSwitchEvent) -> Callable[[TimeEvent], None]:
        def handle(event: TimeEvent) -> None:
            self.apply_switch(switch, event.ts_event)

        return handle

    def apply_switch(self, switch: KillSwitchEvent, now: int) -> None:
        """Throw or release a kill switch; it holds from the very next order on."""
        state = TradingState.HALTED if switch.action == "kill" else TradingState.ACTIVE
        kind = RiskEventKind.HALT if switch.action == "kill" else RiskEventKind.RELEASE
        rule = f"kill_switch_{switch.scope.value}"
        detail = switch.reason or f"{switch.action} {switch.scope.value} {switch.target}".strip()
        if switch.scope is KillSwitchScope.PORTFOLIO:
            self._breach_is_daily = False
            self._set_portfolio(state, now, kind, rule, detail)
            return
        states = (
            self._strategy_states
            if switch.scope is KillSwitchScope.STRATEGY
            else self._instrument_states
        )
        states[switch.target] = state
        self._record(
            now,
            kind,
            switch.target if switch.scope is KillSwitchScope.STRATEGY else "",
            switch.target if switch.scope is KillSwitchScope.INSTRUMENT else "",
            rule,
            detail,
            scope=switch.target,
        )
        if state is TradingState.HALTED and switch.scope is KillSwitchScope.STRATEGY:
            self._cancel_open_orders(switch.target)

    # ledger ---------------------------------------------------------------------------

    def _on_fill(self, fill: OrderFilled) -> None:
        strategy_id, instrument_id = str(fill.strategy_id), str(fill.instrument_id)
        self.apply_fill(strategy_id, instrument_id, fill)
        self._reconcile(strategy_id, instrument_id, fill.ts_event)

    def apply_fill(self, strategy_id: str, instrument_id: str, fill: OrderFilled) -> None:
        side = 1 if fill.order_side == OrderSide.BUY else -1
        quantity = fill.last_qty.as_decimal()
        book = self.ledger.setdefault(strategy_id, {})
        book[instrument_id] = book.get(instrument_id, Decimal(0)) + side * quantity
        floats = self._float_book.setdefault(strategy_id, {})
        floats[instrument_id] = float(book[instrument_id])
        fee = fill.commission
        self._cash.fill(
            strategy_id,
            instrument_id,
            side * fill.last_qty.as_double(),
            fill.last_px.as_double(),
            fee.as_double() if fee is not None else 0.0,
            fee.currency.code if fee is not None else None,
            floats,
        )

    def positions_by_class(self) -> dict[str, dict[str, Decimal]]:
        """The ledger's net positions per asset class (``"unclassified"`` for an instrument
        the run has no definition of): what the per-class limits are checked over."""
        out: dict[str, dict[str, Decimal]] = {}
        for book in self.ledger.values():
            for instrument_id, quantity in book.items():
                kind = self._classes.get(instrument_id)
                held = out.setdefault(kind.value if kind else "unclassified", {})
                held[instrument_id] = held.get(instrument_id, Decimal(0)) + quantity
        return out

    def _reconcile(self, strategy_id: str, instrument_id: str, now: int) -> None:
        """The ledger must agree with the engine; if not, that strategy stops (fail closed)."""
        ids = self._ids.get((strategy_id, instrument_id))
        if ids is None:
            ids = self._ids[(strategy_id, instrument_id)] = (
                InstrumentId.from_str(instrument_id),
                StrategyId(strategy_id),
            )
        engine = Decimal(0)
        for position in self.cache.positions_open(instrument_id=ids[0], strategy_id=ids[1]):
            engine += position.signed_decimal_qty()
        ours = self.ledger.get(strategy_id, {}).get(instrument_id, Decimal(0))
        if engine != ours and self._strategy_states.get(strategy_id) is not TradingState.HALTED:
            self._strategy_states[strategy_id] = TradingState.HALTED
            self._record(
                now,
                RiskEventKind.MISMATCH,
                strategy_id,
                instrument_id,
                "position_mismatch",
                f"ledger {ours} != engine {engine}: strategy halted",
                scope=strategy_id,
            )
            self._cancel_open_orders(strategy_id)

    def _record(
        self,
        now: int,
        kind: RiskEventKind,
        strategy_id: str,
        instrument_id: str,
        rule: str,
        detail: str,
        requested: Decimal | None = None,
        approved: Decimal | None = None,
        scope: str = "",
        premium_at_risk: str = "",
    ) -> None:
        self.events.append(
            RiskEvent(
                ts_ns=now,
                kind=kind,
                scope=scope or strategy_id or "portfolio",
                strategy_id=strategy_id,
                instrument_id=instrument_id,
                rule=rule,
                detail=detail,
                requested="" if requested is None else str(requested),
                approved="" if approved is None else str(approved),
                premium_at_risk=premium_at_risk,
            )
        )


def _with_pending(
    positions: Mapping[str, Mapping[str, Decimal]], strategy_id: str, pending: dict[str, Decimal]
) -> dict[str, dict[str, Decimal]]:
    """The book as it will be once the strategy's pending orders fill (others untouched)."""
    book = {s: dict(held) for s, held in positions.items()}
    own = book.setdefault(strategy_id, {})
    for instrument_id, quantity in pending.items():
        own[instrument_id] = own.get(instrument_id, Decimal(0)) + quantity
    return book


def _with_pending_floats(
    positions: dict[str, dict[str, float]], strategy_id: str, pending: dict[str, Decimal]
) -> dict[str, dict[str, float]]:
    book = dict(positions)
    own = dict(book.get(strategy_id, {}))
    for instrument_id, quantity in pending.items():
        own[instrument_id] = own.get(instrument_id, 0.0) + float(quantity)
    book[strategy_id] = own
    return book
