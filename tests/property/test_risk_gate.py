"""Property 34: risk gate enforcement. Property 36: risk control preservation (one gate).

For random order intents, books and limits: an approved (or reduced) order never breaches a
limit that held before nor makes a breach worse (a value past its limit may come back toward
it without crossing zero), a reduced quantity is approved when asked again, and a denied one
names a rule that its numbers actually breach. The checks below are written independently of
``check_order``.
"""

from dataclasses import replace
from decimal import Decimal

from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from quantdesk.domain.risk import (
    OrderIntent,
    RiskAction,
    RiskConstraints,
    RiskLimits,
    RiskRule,
    RiskState,
    TradingState,
    check_order,
    reduces_risk,
)
from quantdesk.domain.risk_screen import ScreenBook, ScreenLimits, clearly_approved

INSTRUMENTS = ["AAA.SIM", "BBB.SIM", "CCC.SIM"]
STRATEGIES = ["S1", "S2"]
ZERO = Decimal(0)

amount = st.integers(1, 2_000).map(Decimal)


def rarely(values: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    """A limit set one time in four, so that orders are often approved and checked."""
    return st.integers(0, 3).flatmap(lambda k: values if k == 0 else st.none())


maybe = rarely(amount)


@st.composite
def books(draw: st.DrawFn) -> RiskState:
    positions = {
        s: {i: Decimal(draw(st.integers(-300, 300))) for i in INSTRUMENTS} for s in STRATEGIES
    }
    prices = {i: Decimal(draw(st.integers(1, 500))) for i in INSTRUMENTS}
    equity = Decimal(draw(st.integers(1_000, 200_000)))
    return RiskState(
        equity=equity,
        start_of_day_equity=equity + Decimal(draw(st.integers(-5_000, 5_000))),
        high_water_mark=equity + Decimal(draw(st.integers(0, 50_000))),
        strategy_equity_change_today={
            s: Decimal(draw(st.integers(-3_000, 3_000))) for s in STRATEGIES
        },
        strategy_drawdown_pct={s: Decimal(draw(st.integers(0, 50))) / 100 for s in STRATEGIES},
        positions=positions,
        prices=prices,
        open_orders={s: draw(st.integers(0, 5)) for s in STRATEGIES},
        portfolio_state=draw(st.sampled_from([*TradingState, *[TradingState.ACTIVE] * 6])),
        strategy_states={
            s: draw(st.sampled_from([*TradingState, *[TradingState.ACTIVE] * 6]))
            for s in STRATEGIES
        },
    )


def limit_kwargs(draw: st.DrawFn) -> dict[str, object]:
    return {
        "max_position": draw(maybe),
        "max_order_quantity": draw(maybe),
        "max_order_notional": draw(rarely(st.integers(100, 100_000).map(Decimal))),
        "max_open_orders": draw(rarely(st.integers(1, 6))),
        "max_daily_loss": draw(rarely(st.integers(100, 5_000).map(Decimal))),
        "max_daily_loss_pct": draw(rarely(st.integers(1, 20).map(lambda x: Decimal(x) / 100))),
        "max_drawdown_pct": draw(rarely(st.integers(1, 60).map(lambda x: Decimal(x) / 100))),
        "allowed_instruments": draw(rarely(st.frozensets(st.sampled_from(INSTRUMENTS)))),
        "long_only": draw(st.integers(0, 3)) == 0,
        "allow_reduce": draw(st.booleans()),
    }


@st.composite
def constraints(draw: st.DrawFn) -> RiskConstraints:
    return RiskConstraints(**limit_kwargs(draw))  # type: ignore[arg-type]


@st.composite
def portfolio_limits(draw: st.DrawFn) -> RiskLimits:
    return RiskLimits(
        **limit_kwargs(draw),  # type: ignore[arg-type]
        max_gross_exposure=draw(st.none() | st.integers(1_000, 500_000).map(Decimal)),
        max_net_exposure=draw(st.none() | st.integers(1_000, 500_000).map(Decimal)),
        max_leverage=draw(st.none() | st.integers(1, 10).map(Decimal)),
    )


order_choices = st.tuples(
    st.sampled_from(STRATEGIES), st.sampled_from(INSTRUMENTS), st.sampled_from([1, -1])
).flatmap(lambda t: st.tuples(st.just(t), st.integers(1, 600)))


def intent(state: RiskState, choice: tuple[tuple[str, str, int], int]) -> OrderIntent:
    (strategy, instrument, side), quantity = choice
    return OrderIntent(
        strategy_id=strategy,
        instrument_id=instrument,
        side=side,
        quantity=Decimal(quantity),
        price=state.prices[instrument],
    )


def flat_book(**overrides: object) -> RiskState:
    """A book with nothing held and no losses, every state ACTIVE: the base of pinned cases."""
    zero = Decimal(0)
    base = RiskState(
        equity=Decimal(100_000),
        start_of_day_equity=Decimal(100_000),
        high_water_mark=Decimal(100_000),
        strategy_equity_change_today={s: zero for s in STRATEGIES},
        strategy_drawdown_pct={s: zero for s in STRATEGIES},
        positions={s: {i: zero for i in INSTRUMENTS} for s in STRATEGIES},
        prices={i: Decimal(100) for i in INSTRUMENTS},
        open_orders={s: 0 for s in STRATEGIES},
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


# The repro: S2 is short 20 of AAA at 100 (net exposure -2,000, past a 1,000 limit).
SHORT_BOOK = flat_book(
    positions={
        "S1": {i: Decimal(0) for i in INSTRUMENTS},
        "S2": {"AAA.SIM": Decimal(-20), "BBB.SIM": Decimal(0), "CCC.SIM": Decimal(0)},
    }
)
NET_1000_ORDERS_OF_1 = RiskLimits(max_net_exposure=Decimal(1000), max_order_quantity=Decimal(1))


def gross(state: RiskState, instrument: str, delta: Decimal) -> Decimal:
    total = Decimal(0)
    for i in INSTRUMENTS:
        net = sum(state.positions[s][i] for s in STRATEGIES) + (delta if i == instrument else 0)
        total += abs(net * state.prices[i])
    return total


def exposure(state: RiskState, instrument: str, delta: Decimal) -> Decimal:
    held = sum((state.positions[s][instrument] for s in STRATEGIES), ZERO)
    return (held + delta) * state.prices[instrument]


def toward_zero(before: Decimal, after: Decimal) -> bool:
    """``after`` is closer to zero than ``before`` and on the same side (or at zero)."""
    return abs(after) < abs(before) and (after == 0 or (after > 0) == (before > 0))


def net(state: RiskState, instrument: str, delta: Decimal) -> Decimal:
    return sum(
        (
            (sum(state.positions[s][i] for s in STRATEGIES) + (delta if i == instrument else 0))
            * state.prices[i]
            for i in INSTRUMENTS
        ),
        ZERO,
    )


def breached_with_full_quantity(
    rule: RiskRule, scope: str, o: OrderIntent, s: RiskState, c: RiskConstraints, p: RiskLimits
) -> bool:
    """Does ``rule`` really fail for the order as requested (recomputed from scratch)?"""
    rules = p if scope == "portfolio" else c
    pos = (
        sum((s.positions[x][o.instrument_id] for x in STRATEGIES), ZERO)
        if scope == "portfolio"
        else s.positions[o.strategy_id][o.instrument_id]
    )
    after = pos + o.side * o.quantity
    delta = o.side * o.quantity
    if rule is RiskRule.TRADING_HALTED:
        states = [s.portfolio_state, s.strategy_states.get(o.strategy_id, TradingState.ACTIVE)]
        return TradingState.HALTED in states
    if rule is RiskRule.TRADING_REDUCING:
        own = s.positions[o.strategy_id][o.instrument_id]
        return not reduces_risk(own, o.side, o.quantity)
    if rule is RiskRule.INSTRUMENT_NOT_ALLOWED:
        return (
            rules.allowed_instruments is not None
            and o.instrument_id not in rules.allowed_instruments
        )
    if rule is RiskRule.MAX_OPEN_ORDERS:
        count = (
            sum(s.open_orders.values()) if scope == "portfolio" else s.open_orders[o.strategy_id]
        )
        return rules.max_open_orders is not None and count >= rules.max_open_orders
    if rule is RiskRule.MAX_DAILY_LOSS:
        loss = (
            s.start_of_day_equity - s.equity
            if scope == "portfolio"
            else -s.strategy_equity_change_today[o.strategy_id]
        )
        return rules.max_daily_loss is not None and loss >= rules.max_daily_loss
    if rule is RiskRule.MAX_DAILY_LOSS_PCT:
        loss = (
            s.start_of_day_equity - s.equity
            if scope == "portfolio"
            else -s.strategy_equity_change_today[o.strategy_id]
        )
        return (  # a share of a non-positive start-of-day equity means nothing: no rule
            rules.max_daily_loss_pct is not None
            and s.start_of_day_equity > 0
            and loss / s.start_of_day_equity >= rules.max_daily_loss_pct
        )
    if rule is RiskRule.MAX_DRAWDOWN_PCT:
        dd = (
            (s.high_water_mark - s.equity) / s.high_water_mark
            if scope == "portfolio"
            else s.strategy_drawdown_pct[o.strategy_id]
        )
        return rules.max_drawdown_pct is not None and dd >= rules.max_drawdown_pct
    if rule is RiskRule.MAX_ORDER_QUANTITY:
        return rules.max_order_quantity is not None and o.quantity > rules.max_order_quantity
    if rule is RiskRule.MAX_ORDER_NOTIONAL:
        return (
            rules.max_order_notional is not None and o.quantity * o.price > rules.max_order_notional
        )
    if rule is RiskRule.LONG_ONLY:
        return rules.long_only and after < 0 and not toward_zero(pos, after)
    if rule is RiskRule.MAX_POSITION:  # beyond the limit and not on the way back to it
        return (
            rules.max_position is not None
            and abs(after) > rules.max_position
            and not (abs(after) < abs(pos) and (after > 0) == (pos > 0))
        )
    here = (exposure(s, o.instrument_id, ZERO), exposure(s, o.instrument_id, delta))
    if rule is RiskRule.MAX_GROSS_EXPOSURE:  # shrinking this instrument's exposure may pass
        return (
            p.max_gross_exposure is not None
            and gross(s, o.instrument_id, delta) > p.max_gross_exposure
            and not toward_zero(*here)
        )
    if rule is RiskRule.MAX_NET_EXPOSURE:
        return (
            p.max_net_exposure is not None
            and abs(net(s, o.instrument_id, delta)) > p.max_net_exposure
            and not toward_zero(net(s, o.instrument_id, ZERO), net(s, o.instrument_id, delta))
        )
    if rule is RiskRule.MAX_LEVERAGE:
        return (
            p.max_leverage is not None
            and (s.equity <= 0 or gross(s, o.instrument_id, delta) > p.max_leverage * s.equity)
            and not toward_zero(*here)
        )
    return rule is RiskRule.BELOW_MIN_QUANTITY


QUANTITY_RULES = (
    RiskRule.MAX_ORDER_QUANTITY,
    RiskRule.MAX_ORDER_NOTIONAL,
    RiskRule.LONG_ONLY,
    RiskRule.MAX_POSITION,
    RiskRule.MAX_GROSS_EXPOSURE,
    RiskRule.MAX_NET_EXPOSURE,
    RiskRule.MAX_LEVERAGE,
)
ALWAYS_RULES = QUANTITY_RULES[:3]  # the ones an order that only reduces must keep too


def no_breach_made_or_worsened(
    order: OrderIntent, state: RiskState, c: RiskConstraints, p: RiskLimits
) -> None:
    """Each limit holds after the order, or its value is strictly nearer to it than before."""

    def no_worse(before: Decimal, after: Decimal, limit: Decimal | None) -> bool:
        return limit is None or after <= limit or after < before

    delta = order.side * order.quantity
    own = state.positions[order.strategy_id][order.instrument_id]
    total = sum((state.positions[s][order.instrument_id] for s in STRATEGIES), ZERO)
    rules: RiskConstraints | RiskLimits
    for rules, position in ((c, own), (p, total)):
        assert no_worse(abs(position), abs(position + delta), rules.max_position)
        assert not rules.long_only or position + delta >= 0 or delta > 0
    gross_before, gross_after = (
        gross(state, order.instrument_id, ZERO),
        gross(state, order.instrument_id, delta),
    )
    assert no_worse(gross_before, gross_after, p.max_gross_exposure)
    net_before, net_after = (
        net(state, order.instrument_id, ZERO),
        net(state, order.instrument_id, delta),
    )
    assert no_worse(abs(net_before), abs(net_after), p.max_net_exposure)
    if p.max_leverage is not None:
        assert gross_after < gross_before or (
            state.equity > 0 and gross_after <= p.max_leverage * state.equity
        )


@example(  # the repro: S1 buys 15, cut to the order limit of 1, shrinks the breach
    state=SHORT_BOOK, c=RiskConstraints(), p=NET_1000_ORDERS_OF_1, choice=(("S1", "AAA.SIM", 1), 15)
)
@example(  # a buy of 1 shrinks the short breach: approved
    state=SHORT_BOOK, c=RiskConstraints(), p=NET_1000_ORDERS_OF_1, choice=(("S1", "AAA.SIM", 1), 1)
)
@example(  # a sell of 1 deepens it: denied
    state=SHORT_BOOK, c=RiskConstraints(), p=NET_1000_ORDERS_OF_1, choice=(("S1", "AAA.SIM", -1), 1)
)
@example(  # a buy of 35 would end +1,500: cut to 30, ending at +1,000
    state=SHORT_BOOK,
    c=RiskConstraints(),
    p=RiskLimits(max_net_exposure=Decimal(1000)),
    choice=(("S1", "AAA.SIM", 1), 35),
)
@example(  # the same with gross exposure
    state=SHORT_BOOK,
    c=RiskConstraints(),
    p=RiskLimits(max_gross_exposure=Decimal(1000), max_order_quantity=Decimal(1)),
    choice=(("S1", "AAA.SIM", 1), 15),
)
@settings(max_examples=500, deadline=None)
@given(state=books(), c=constraints(), p=portfolio_limits(), choice=order_choices)
def test_property_34_risk_gate_enforcement(
    state: RiskState,
    c: RiskConstraints,
    p: RiskLimits,
    choice: tuple[tuple[str, str, int], int],
) -> None:
    # Property 34: no order bypasses the risk gate; an approved or reduced order never breaches
    # a limit that held nor makes a breach worse, and a reduced one is approved when re-asked
    order = intent(state, choice)
    decision = check_order(order, state, c, p)
    event(decision.action.value)
    own = state.positions[order.strategy_id][order.instrument_id]
    if decision.action is RiskAction.DENY:
        assert decision.quantity == 0
        assert decision.breaches, "a denial must name its rule"
        assert any(
            breached_with_full_quantity(b.rule, b.scope, order, state, c, p)
            for b in decision.breaches
        ), decision.breaches
        if RiskRule.BELOW_MIN_QUANTITY in {b.rule for b in decision.breaches}:
            # nothing fits: then not even one increment (judged as the order was sent) fits
            smallest = replace(order, quantity=order.size_increment)
            checked = (
                ALWAYS_RULES if reduces_risk(own, order.side, order.quantity) else QUANTITY_RULES
            )
            assert any(
                breached_with_full_quantity(rule, scope, smallest, state, c, p)
                for rule in checked
                for scope in ("portfolio", order.strategy_id)
            ), decision.breaches
        return
    q = decision.quantity
    assert 0 < q <= order.quantity
    approved = replace(order, quantity=q)
    if decision.action is RiskAction.APPROVE:
        assert q == order.quantity and not decision.breaches
    else:
        assert c.allow_reduce and p.allow_reduce and decision.breaches
        again = check_order(approved, state, c, p)
        assert (again.action, again.quantity) == (RiskAction.APPROVE, q), again
    assert TradingState.HALTED not in (
        state.portfolio_state,
        state.strategy_states.get(order.strategy_id, TradingState.ACTIVE),
    )
    for scope_rules in (c, p):
        if scope_rules.allowed_instruments is not None:
            assert order.instrument_id in scope_rules.allowed_instruments
    reducing = reduces_risk(own, order.side, q)
    kept = (
        ALWAYS_RULES
        if reducing
        else (
            *QUANTITY_RULES,
            RiskRule.MAX_OPEN_ORDERS,
            RiskRule.MAX_DAILY_LOSS,
            RiskRule.MAX_DAILY_LOSS_PCT,
            RiskRule.MAX_DRAWDOWN_PCT,
        )
    )
    for rule in kept:
        for scope in ("portfolio", order.strategy_id):
            assert not breached_with_full_quantity(rule, scope, approved, state, c, p), (
                rule,
                scope,
            )
    if reducing:
        return  # getting out is allowed whatever the exposure or losses
    assert state.portfolio_state is not TradingState.REDUCING
    no_breach_made_or_worsened(approved, state, c, p)


@settings(max_examples=100, deadline=None)
@given(state=books(), c=constraints(), p=portfolio_limits(), choice=order_choices)
def test_property_36_same_limits_same_decisions_for_any_strategy(
    state: RiskState,
    c: RiskConstraints,
    p: RiskLimits,
    choice: tuple[tuple[str, str, int], int],
) -> None:
    # Property 36: limits, drawdown controls and kill switch work the same for every strategy
    order = intent(state, choice)
    other = "S2" if order.strategy_id == "S1" else "S1"
    swapped = {
        order.strategy_id: state.positions[other],
        other: state.positions[order.strategy_id],
    }
    mirrored = replace(
        state,
        **{
            "positions": swapped,
            "open_orders": {
                order.strategy_id: state.open_orders[other],
                other: state.open_orders[order.strategy_id],
            },
            "strategy_equity_change_today": {
                order.strategy_id: state.strategy_equity_change_today[other],
                other: state.strategy_equity_change_today[order.strategy_id],
            },
            "strategy_drawdown_pct": {
                order.strategy_id: state.strategy_drawdown_pct[other],
                other: state.strategy_drawdown_pct[order.strategy_id],
            },
            "strategy_states": {
                order.strategy_id: state.strategy_states.get(other, TradingState.ACTIVE),
                other: state.strategy_states.get(order.strategy_id, TradingState.ACTIVE),
            },
        },
    )
    mine = check_order(order, state, c, p)
    theirs = check_order(replace(order, strategy_id=other), mirrored, c, p)
    assert (mine.action, mine.quantity) == (theirs.action, theirs.quantity)
    assert [b.rule for b in mine.breaches] == [b.rule for b in theirs.breaches]


def screen_book(state: RiskState) -> ScreenBook:
    """The Decimal book as floats, the way the engine's guard keeps it."""
    return ScreenBook(
        equity=float(state.equity),
        start_of_day_equity=float(state.start_of_day_equity),
        high_water_mark=float(state.high_water_mark),
        strategy_equity_change_today={
            s: float(v) for s, v in state.strategy_equity_change_today.items()
        },
        strategy_drawdown_pct={s: float(v) for s, v in state.strategy_drawdown_pct.items()},
        positions={s: {i: float(q) for i, q in b.items()} for s, b in state.positions.items()},
        prices={i: float(p) for i, p in state.prices.items()},
        open_orders=dict(state.open_orders),
    )


@settings(max_examples=1000, deadline=None)
@given(state=books(), c=constraints(), p=portfolio_limits(), choice=order_choices)
def test_property_34_the_float_screen_approves_only_what_the_gate_approves(
    state: RiskState,
    c: RiskConstraints,
    p: RiskLimits,
    choice: tuple[tuple[str, str, int], int],
) -> None:
    # Property 34: risk gate enforcement — the fast screen never lets through an order that
    # the exact gate would deny or reduce (it may only defer to the exact gate)
    active = replace(
        state,
        portfolio_state=TradingState.ACTIVE,
        strategy_states={s: TradingState.ACTIVE for s in STRATEGIES},
    )
    order = intent(active, choice)
    own = active.positions[order.strategy_id][order.instrument_id]
    passed = clearly_approved(
        order.strategy_id,
        order.instrument_id,
        order.side,
        float(order.quantity),
        float(order.price),
        reduces_risk(own, order.side, order.quantity),
        screen_book(active),
        ScreenLimits.of(c),
        ScreenLimits.of(p),
    )
    event("screen approved" if passed else "screen deferred")
    if passed:
        decision = check_order(order, active, c, p)
        assert decision.action is RiskAction.APPROVE, decision
        assert decision.quantity == order.quantity


def test_the_screen_approves_orders_far_inside_generous_limits() -> None:
    """Not vacuous: an ordinary order under limits that never bind skips the exact check."""
    generous = RiskLimits(
        max_position=Decimal(10**9),
        max_order_quantity=Decimal(10**9),
        max_order_notional=Decimal(10**12),
        max_gross_exposure=Decimal(10**12),
        max_net_exposure=Decimal(10**12),
        max_leverage=Decimal(10**6),
        max_drawdown_pct=Decimal("0.99"),
        max_daily_loss_pct=Decimal("0.99"),
    )
    state = RiskState(
        equity=Decimal(1_000_000),
        start_of_day_equity=Decimal(1_000_000),
        high_water_mark=Decimal(1_000_000),
        positions={"S1": {"AAA.SIM": Decimal(100)}},
        prices={"AAA.SIM": Decimal(50)},
    )
    book = screen_book(state)
    args = ("S1", "AAA.SIM", 1, 100.0, 50.0, False, book)
    assert clearly_approved(*args, ScreenLimits(), ScreenLimits.of(generous))
    tight = ScreenLimits.of(generous.model_copy(update={"max_position": Decimal(200)}))
    assert not clearly_approved(*args, ScreenLimits(), tight)  # exactly at the bound: defer
