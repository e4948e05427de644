"""The exact gate, rule by rule: each limit at its boundary and one increment past it."""

from decimal import Decimal
from typing import Any

import pytest

from quantdesk.domain.risk import (
    GateRequest,
    OrderIntent,
    RiskAction,
    RiskConstraints,
    RiskDecision,
    RiskLimits,
    RiskRule,
    RiskState,
    TradingState,
    check_order,
    reduces_risk,
)

D = Decimal
A, B = "A.SIM", "B.SIM"


def book(
    positions: dict[str, dict[str, int]] | None = None,
    equity: str = "100000",
    **kwargs: Any,
) -> RiskState:
    """A book at 100 a unit for every instrument, equity flat on the day and at its peak."""
    return RiskState(
        equity=D(equity),
        start_of_day_equity=kwargs.pop("start_of_day_equity", D(equity)),
        high_water_mark=kwargs.pop("high_water_mark", D(equity)),
        positions={s: {i: D(q) for i, q in held.items()} for s, held in (positions or {}).items()},
        prices=kwargs.pop("prices", {A: D(100), B: D(100)}),
        **kwargs,
    )


def order(side: int, quantity: str, strategy: str = "S1", **kwargs: Any) -> OrderIntent:
    return OrderIntent(
        strategy_id=strategy,
        instrument_id=kwargs.pop("instrument", A),
        side=side,
        quantity=D(quantity),
        price=kwargs.pop("price", D(100)),
        **kwargs,
    )


def decide(
    intent: OrderIntent,
    state: RiskState | None = None,
    constraints: RiskConstraints | None = None,
    **limits: Any,
) -> RiskDecision:
    return check_order(intent, state or book(), constraints, RiskLimits(**limits))


def rules(decision: RiskDecision) -> set[RiskRule]:
    if decision.action is RiskAction.DENY:
        assert decision.quantity == 0
    return {b.rule for b in decision.breaches}


def approved(decision: RiskDecision, quantity: str) -> bool:
    return (
        decision.action is RiskAction.APPROVE
        and decision.quantity == D(quantity)
        and decision.breaches == []
    )


def reduced(decision: RiskDecision, quantity: str) -> bool:
    return decision.action is RiskAction.REDUCE and decision.quantity == D(quantity)


# --- quantity-shaped limits: at the limit approved, one increment past it cut to it ---------


@pytest.mark.parametrize(
    ("limits", "at", "rule"),
    [
        ({"max_order_quantity": D(5)}, "5", RiskRule.MAX_ORDER_QUANTITY),
        ({"max_order_notional": D(500)}, "5", RiskRule.MAX_ORDER_NOTIONAL),
        ({"max_position": D(5)}, "5", RiskRule.MAX_POSITION),
        ({"max_gross_exposure": D(500)}, "5", RiskRule.MAX_GROSS_EXPOSURE),
        ({"max_net_exposure": D(500)}, "5", RiskRule.MAX_NET_EXPOSURE),
        ({"max_leverage": D("0.005")}, "5", RiskRule.MAX_LEVERAGE),  # 500 / 100,000
    ],
)
@pytest.mark.parametrize("side", [1, -1])
def test_each_limit_holds_at_its_boundary_and_cuts_one_past_it(
    limits: dict[str, Decimal], at: str, rule: RiskRule, side: int
) -> None:
    assert approved(decide(order(side, at), **limits), at)
    past = decide(order(side, str(D(at) + 1)), **limits)
    assert reduced(past, at) and rules(past) == {rule}
    assert past.breaches[0].scope == "portfolio"


def test_strategy_constraints_bind_in_the_strategy_scope() -> None:
    constraints = RiskConstraints(max_position=D(5), max_order_quantity=D(7))
    cut = check_order(order(1, "9"), book({"S1": {A: 2}}), constraints)
    assert reduced(cut, "3")
    assert rules(cut) == {RiskRule.MAX_POSITION, RiskRule.MAX_ORDER_QUANTITY}
    assert {b.scope for b in cut.breaches} == {"S1"}
    assert approved(check_order(order(1, "3"), book({"S1": {A: 2}}), constraints), "3")


def test_the_portfolio_position_is_the_net_of_every_strategy() -> None:
    state = book({"S1": {A: 2}, "S2": {A: 2}})
    assert reduced(decide(order(1, "4"), state, max_position=D(5)), "1")
    assert approved(decide(order(1, "4"), state, RiskConstraints(max_position=D(6))), "4")


def test_a_reduced_quantity_is_a_whole_number_of_increments() -> None:
    fine = order(1, "4", size_increment=D("0.5"))
    assert reduced(decide(fine, max_order_quantity=D("2.7")), "2.5")
    assert reduced(decide(fine, max_order_notional=D(299)), "2.5")  # 2.99 units
    assert reduced(decide(fine, max_net_exposure=D(260)), "2.5")
    assert reduced(decide(fine, max_order_quantity=D(1)), "1")
    assert reduced(decide(order(1, "2.8", size_increment=D("0.5"))), "2.5")  # off-increment
    coarse = order(1, "40", size_increment=D(10))
    assert reduced(decide(coarse, max_position=D(39)), "30")


def test_no_whole_increment_fits_is_a_denial_below_the_minimum() -> None:
    denied = decide(order(1, "3", size_increment=D(2)), max_order_notional=D(199))
    assert denied.action is RiskAction.DENY and denied.quantity == 0
    assert rules(denied) == {RiskRule.MAX_ORDER_NOTIONAL, RiskRule.BELOW_MIN_QUANTITY}


def test_a_limit_that_may_not_reduce_denies_with_its_rule() -> None:
    strict = RiskConstraints(allow_reduce=False)
    denied = decide(order(1, "6"), None, strict, max_order_quantity=D(5))
    assert denied.action is RiskAction.DENY and rules(denied) == {RiskRule.MAX_ORDER_QUANTITY}
    assert approved(decide(order(1, "5"), None, strict, max_order_quantity=D(5)), "5")


# --- exposure limits: intervals, and breaches that may only shrink ---------------------------

SHORT = book({"S1": {}, "S2": {A: -20}})  # the repro: net exposure -2,000


def test_a_reduced_order_is_approved_when_asked_again() -> None:
    first = decide(order(1, "15"), SHORT, max_net_exposure=D(1000), max_order_quantity=D(1))
    assert reduced(first, "1") and rules(first) == {RiskRule.MAX_ORDER_QUANTITY}
    again = decide(order(1, "1"), SHORT, max_net_exposure=D(1000), max_order_quantity=D(1))
    assert approved(again, "1")  # -1,900: nearer the limit than -2,000


def test_an_order_deepening_a_net_breach_is_denied() -> None:
    denied = decide(order(-1, "1"), SHORT, max_net_exposure=D(1000))
    assert denied.action is RiskAction.DENY
    assert rules(denied) == {RiskRule.MAX_NET_EXPOSURE, RiskRule.BELOW_MIN_QUANTITY}


def test_an_order_through_zero_is_cut_to_the_far_side_of_the_limit() -> None:
    assert approved(decide(order(1, "30"), SHORT, max_net_exposure=D(1000)), "30")  # +1,000
    assert reduced(decide(order(1, "35"), SHORT, max_net_exposure=D(1000)), "30")
    assert reduced(decide(order(1, "35"), SHORT, max_gross_exposure=D(1000)), "30")


def test_gross_exposure_elsewhere_past_the_limit_lets_only_shrinking_orders_through() -> None:
    state = book({"S1": {}, "S2": {A: -5, B: 20}})  # 2,000 in B alone, past a 1,000 limit
    assert approved(decide(order(1, "5"), state, max_gross_exposure=D(1000)), "5")
    assert reduced(decide(order(1, "8"), state, max_gross_exposure=D(1000)), "5")
    denied = decide(order(-1, "1"), state, max_gross_exposure=D(1000))
    assert denied.action is RiskAction.DENY


def test_leverage_without_positive_equity_lets_only_shrinking_orders_through() -> None:
    broke = book({"S1": {}, "S2": {A: -5}}, equity="0")
    assert reduced(decide(order(1, "8"), broke, max_leverage=D(2)), "5")
    denied = decide(order(-1, "1"), broke, max_leverage=D(2))
    assert denied.action is RiskAction.DENY and RiskRule.MAX_LEVERAGE in rules(denied)


def test_exposure_uses_the_orders_price_and_every_instrument() -> None:
    state = book({"S1": {B: 3}})  # 300 already in B
    assert approved(decide(order(1, "2", price=D(100)), state, max_net_exposure=D(500)), "2")
    assert reduced(decide(order(1, "2", price=D(150)), state, max_net_exposure=D(500)), "1")
    assert reduced(decide(order(1, "3"), state, max_gross_exposure=D(500)), "2")


# --- long only, order counts, instruments ----------------------------------------------------


def test_long_only_lets_a_sale_go_down_to_flat_and_no_further() -> None:
    long_only = RiskConstraints(long_only=True)
    assert approved(check_order(order(-1, "3"), book({"S1": {A: 3}}), long_only), "3")
    cut = check_order(order(-1, "5"), book({"S1": {A: 3}}), long_only)
    assert reduced(cut, "3") and rules(cut) == {RiskRule.LONG_ONLY}
    flat = check_order(order(-1, "1"), book(), long_only)
    assert flat.action is RiskAction.DENY and RiskRule.LONG_ONLY in rules(flat)
    assert approved(check_order(order(1, "1"), book({"S1": {A: -3}}), long_only), "1")


def test_open_orders_at_the_limit_deny() -> None:
    for scope_limits in ({"max_open_orders": 2},):
        assert approved(decide(order(1, "1"), book(open_orders={"S1": 1}), **scope_limits), "1")
        full = decide(order(1, "1"), book(open_orders={"S1": 1, "S2": 1}), **scope_limits)
        assert full.action is RiskAction.DENY and rules(full) == {RiskRule.MAX_OPEN_ORDERS}
    own = RiskConstraints(max_open_orders=2)
    others = book(open_orders={"S1": 1, "S2": 5})
    assert approved(check_order(order(1, "1"), others, own), "1")
    assert check_order(order(1, "1"), book(open_orders={"S1": 2}), own).action is RiskAction.DENY


def test_an_instrument_outside_the_allowed_list_is_denied() -> None:
    denied = decide(order(1, "1"), allowed_instruments=frozenset({B}))
    assert denied.action is RiskAction.DENY and rules(denied) == {RiskRule.INSTRUMENT_NOT_ALLOWED}
    assert approved(decide(order(1, "1", instrument=B), allowed_instruments=frozenset({B})), "1")


# --- losses: a loss equal to its limit is a breach (a stop level) ----------------------------


@pytest.mark.parametrize(
    ("limits", "state_at", "state_inside", "rule"),
    [
        (
            {"max_daily_loss": D(1000)},
            {"equity": "99000", "start_of_day_equity": D(100000)},
            {"equity": "99000.01", "start_of_day_equity": D(100000)},
            RiskRule.MAX_DAILY_LOSS,
        ),
        (
            {"max_daily_loss_pct": D("0.01")},
            {"equity": "99000", "start_of_day_equity": D(100000)},
            {"equity": "99000.01", "start_of_day_equity": D(100000)},
            RiskRule.MAX_DAILY_LOSS_PCT,
        ),
        (
            {"max_drawdown_pct": D("0.1")},
            {"equity": "90000", "high_water_mark": D(100000)},
            {"equity": "90000.01", "high_water_mark": D(100000)},
            RiskRule.MAX_DRAWDOWN_PCT,
        ),
    ],
)
def test_a_portfolio_loss_equal_to_its_limit_denies_orders_adding_risk(
    limits: dict[str, Decimal],
    state_at: dict[str, Any],
    state_inside: dict[str, Any],
    rule: RiskRule,
) -> None:
    at = decide(order(1, "1"), book({"S1": {A: 1}}, **state_at), **limits)
    assert at.action is RiskAction.DENY and rules(at) == {rule}
    assert approved(decide(order(1, "1"), book({"S1": {A: 1}}, **state_inside), **limits), "1")
    # getting out is never blocked by a loss
    assert approved(decide(order(-1, "1"), book({"S1": {A: 1}}, **state_at), **limits), "1")


def test_a_strategy_loss_is_measured_on_that_strategy_alone() -> None:
    constraints = RiskConstraints(
        max_daily_loss=D(500), max_daily_loss_pct=D("0.5"), max_drawdown_pct=D("0.2")
    )
    at = book(strategy_equity_change_today={"S1": D(-500)}, strategy_drawdown_pct={"S1": D("0.2")})
    denied = check_order(order(1, "1"), at, constraints)
    assert rules(denied) == {RiskRule.MAX_DAILY_LOSS, RiskRule.MAX_DRAWDOWN_PCT}
    assert all(b.scope == "S1" for b in denied.breaches)
    inside = book(
        strategy_equity_change_today={"S1": D("-499.99"), "S2": D(-(10**6))},
        strategy_drawdown_pct={"S1": D("0.19"), "S2": D(1)},
    )
    assert approved(check_order(order(1, "1"), inside, constraints), "1")
    half = book(equity="1000", strategy_equity_change_today={"S1": D(-500)})
    pct = check_order(order(1, "1"), half, RiskConstraints(max_daily_loss_pct=D("0.5")))
    assert rules(pct) == {RiskRule.MAX_DAILY_LOSS_PCT}


def test_loss_shares_of_no_equity_and_drawdowns_without_a_peak_mean_no_breach() -> None:
    state = book(equity="-10", start_of_day_equity=D(0), high_water_mark=D(0))
    limits = {"max_daily_loss_pct": D("0.01"), "max_drawdown_pct": D("0.01")}
    assert approved(decide(order(1, "1"), state, **limits), "1")


# --- trading states and the reduce-only pass -------------------------------------------------


def test_halted_stops_every_order_even_one_getting_out() -> None:
    held = {"S1": {A: 5}}
    for state in (
        book(held, portfolio_state=TradingState.HALTED),
        book(held, strategy_states={"S1": TradingState.HALTED}),
        book(held, instrument_states={A: TradingState.HALTED}),
    ):
        denied = decide(order(-1, "5"), state)
        assert denied.action is RiskAction.DENY and rules(denied) == {RiskRule.TRADING_HALTED}
    assert approved(
        decide(order(-1, "5"), book(held, strategy_states={"S2": TradingState.HALTED})), "5"
    )


def test_reducing_lets_only_orders_that_shrink_the_position() -> None:
    for state in (
        book({"S1": {A: 5}}, portfolio_state=TradingState.REDUCING),
        book({"S1": {A: 5}}, strategy_states={"S1": TradingState.REDUCING}),
        book({"S1": {A: 5}}, instrument_states={A: TradingState.REDUCING}),
    ):
        assert approved(decide(order(-1, "5"), state), "5")
        grow = decide(order(1, "1"), state)
        assert grow.action is RiskAction.DENY and rules(grow) == {RiskRule.TRADING_REDUCING}
        flip = decide(order(-1, "6"), state)  # through zero: not a reduction
        assert flip.action is RiskAction.DENY


def test_an_order_that_only_shrinks_the_position_passes_exposure_and_losses() -> None:
    state = book(  # S1 closing deepens the portfolio's breaches: allowed, it is getting out
        {"S1": {A: 10}, "S2": {A: -50}},
        equity="50000",
        start_of_day_equity=D(100000),
        high_water_mark=D(200000),
    )
    limits = {
        "max_net_exposure": D(100),
        "max_gross_exposure": D(100),
        "max_leverage": D("0.0001"),
        "max_position": D(1),
        "max_daily_loss": D(1),
        "max_drawdown_pct": D("0.01"),
    }
    assert approved(decide(order(-1, "10"), state, **limits), "10")
    # ...but not the limits on the order itself
    cut = decide(order(-1, "10"), state, **limits, max_order_quantity=D(4))
    assert reduced(cut, "4") and rules(cut) == {RiskRule.MAX_ORDER_QUANTITY}
    assert decide(order(-1, "11"), state, **limits).action is RiskAction.DENY


def test_a_position_past_its_limit_may_come_back_toward_it() -> None:
    state = book({"S1": {A: -20}})
    assert approved(decide(order(1, "25"), state, max_position=D(5)), "25")  # ends at +5
    assert reduced(decide(order(1, "30"), state, max_position=D(5)), "25")
    assert decide(order(-1, "1"), state, max_position=D(5)).action is RiskAction.DENY


@pytest.mark.parametrize(
    ("held", "side", "quantity", "expected"),
    [
        ("5", -1, "5", True),
        ("5", -1, "1", True),
        ("5", -1, "6", False),
        ("-5", 1, "5", True),
        ("-5", 1, "6", False),
        ("-5", -1, "1", False),
        ("5", 1, "1", False),
        ("0", 1, "1", False),
        ("0", -1, "1", False),
    ],
)
def test_reduces_risk_means_toward_zero_without_crossing(
    held: str, side: int, quantity: str, expected: bool
) -> None:
    assert reduces_risk(D(held), side, D(quantity)) is expected


def test_a_bad_intent_is_refused_with_its_reason() -> None:
    with pytest.raises(ValueError, match="side"):
        order(0, "1")
    for bad in ({"quantity": "0"}, {"price": D(0)}, {"size_increment": D(0)}):
        with pytest.raises(ValueError, match="positive"):
            order(1, str(bad.pop("quantity", "1")), **bad)


def test_breaches_carry_their_numbers() -> None:
    cut = decide(order(1, "15"), SHORT, max_net_exposure=D(1000), max_gross_exposure=D(1000))
    assert approved(cut, "15")  # ends at -500: inside both
    over = decide(order(1, "35"), SHORT, max_net_exposure=D(1000))
    (breach,) = over.breaches
    assert (breach.limit, breach.value, breach.scope) == ("1000", "1500", "portfolio")
    notional = decide(order(1, "6"), max_order_notional=D(500)).breaches[0]
    assert (notional.limit, notional.value) == ("500", "600")


# --- every breach says which rule, where, and with what numbers ------------------------------

B_HELD = book({"S1": {A: 1}, "S2": {B: 3}})  # 100 in A, 300 in B


@pytest.mark.parametrize(
    ("intent", "state", "constraints", "limits", "expected"),
    [
        (
            order(1, "1"),
            book(portfolio_state=TradingState.HALTED),
            None,
            {},
            (RiskRule.TRADING_HALTED, "portfolio", "HALTED", "HALTED", "halted"),
        ),
        (
            order(1, "1"),
            book(strategy_states={"S1": TradingState.HALTED}),
            None,
            {},
            (RiskRule.TRADING_HALTED, "S1", "HALTED", "HALTED", "halted"),
        ),
        (
            order(1, "1"),
            book(instrument_states={A: TradingState.REDUCING}),
            None,
            {},
            (RiskRule.TRADING_REDUCING, A, "REDUCING", "increase", "only reduce"),
        ),
        (
            order(1, "1"),
            book(),
            None,
            {"allowed_instruments": frozenset({"C.SIM", B})},
            (
                RiskRule.INSTRUMENT_NOT_ALLOWED,
                "portfolio",
                "B.SIM,C.SIM",
                A,
                "instrument is not in the allowed list",
            ),
        ),
        (
            order(1, "1"),
            book(open_orders={"S1": 2}),
            RiskConstraints(max_open_orders=2),
            {},
            (RiskRule.MAX_OPEN_ORDERS, "S1", "2", "2", "open orders at the limit"),
        ),
        (
            order(1, "1"),
            book(equity="99000", start_of_day_equity=D(100000)),
            None,
            {"max_daily_loss": D(1000)},
            (RiskRule.MAX_DAILY_LOSS, "portfolio", "1000", "1000", "daily loss"),
        ),
        (
            order(1, "1"),
            book(equity="99000", start_of_day_equity=D(100000)),
            None,
            {"max_daily_loss_pct": D("0.01")},
            (
                RiskRule.MAX_DAILY_LOSS_PCT,
                "portfolio",
                "0.01",
                "0.01",
                "daily loss / start-of-day equity",
            ),
        ),
        (
            order(1, "1"),
            book(equity="90000", high_water_mark=D(100000)),
            None,
            {"max_drawdown_pct": D("0.1")},
            (
                RiskRule.MAX_DRAWDOWN_PCT,
                "portfolio",
                "0.1",
                "0.1",
                "drawdown from the high-water mark",
            ),
        ),
        (
            order(1, "1"),
            book(equity="0.5", start_of_day_equity=D(1), high_water_mark=D(1)),
            None,
            {"max_drawdown_pct": D("0.4")},
            (
                RiskRule.MAX_DRAWDOWN_PCT,
                "portfolio",
                "0.4",
                "0.5",
                "drawdown from the high-water mark",
            ),
        ),
        (
            order(1, "1"),
            book(equity="0.5", start_of_day_equity=D(1)),
            None,
            {"max_daily_loss_pct": D("0.4")},
            (
                RiskRule.MAX_DAILY_LOSS_PCT,
                "portfolio",
                "0.4",
                "0.5",
                "daily loss / start-of-day equity",
            ),
        ),
        (
            order(1, "6"),
            book(),
            None,
            {"max_order_quantity": D(5)},
            (RiskRule.MAX_ORDER_QUANTITY, "portfolio", "5", "6", "max_order_quantity"),
        ),
        (
            order(1, "6"),
            book(),
            None,
            {"max_order_notional": D(500)},
            (RiskRule.MAX_ORDER_NOTIONAL, "portfolio", "500", "600", "max_order_notional"),
        ),
        (
            order(-1, "5"),
            book({"S1": {A: 3}}),
            RiskConstraints(long_only=True),
            {},
            (RiskRule.LONG_ONLY, "S1", "0", "-2", "long_only"),
        ),
        (
            order(1, "9"),
            book({"S1": {A: 2}}),
            RiskConstraints(max_position=D(5)),
            {},
            (RiskRule.MAX_POSITION, "S1", "5", "11", "max_position"),
        ),
        (
            order(1, "3"),
            B_HELD,
            None,
            {"max_gross_exposure": D(500)},
            (RiskRule.MAX_GROSS_EXPOSURE, "portfolio", "500", "700", "max_gross_exposure"),
        ),
        (
            order(1, "3"),
            B_HELD,
            None,
            {"max_net_exposure": D(500)},
            (RiskRule.MAX_NET_EXPOSURE, "portfolio", "500", "700", "max_net_exposure"),
        ),
        (
            order(1, "3"),
            B_HELD,
            None,
            {"max_leverage": D("0.005")},
            (RiskRule.MAX_LEVERAGE, "portfolio", "0.005", "0.007", "max_leverage"),
        ),
        (
            order(1, "3"),
            book(equity="0"),
            None,
            {"max_leverage": D(2)},
            (
                RiskRule.MAX_LEVERAGE,
                "portfolio",
                "2",
                "inf (equity is not positive)",
                "max_leverage",
            ),
        ),
    ],
)
def test_a_breach_names_its_rule_scope_limit_and_value(
    intent: OrderIntent,
    state: RiskState,
    constraints: RiskConstraints | None,
    limits: dict[str, Any],
    expected: tuple[RiskRule, str, str, str, str],
) -> None:
    decision = decide(intent, state, constraints, **limits)
    first = decision.breaches[0]
    assert (first.rule, first.scope, first.limit, first.value, first.detail) == expected


def test_below_the_minimum_names_the_increment() -> None:
    denied = decide(order(1, "3", size_increment=D(2)), max_order_notional=D(199))
    last = denied.breaches[-1]
    assert (last.rule, last.scope, last.limit, last.value, last.detail) == (
        RiskRule.BELOW_MIN_QUANTITY,
        "S1",
        "2",
        "0",
        "no positive quantity keeps every limit",
    )


def test_gross_past_the_limit_elsewhere_gives_no_room_to_an_order_adding_exposure() -> None:
    cheap = book({"S2": {B: 20}}, prices={A: D(1), B: D(100)})  # 2,000 in B, limit 1,000
    denied = decide(order(1, "1", price=D(1)), cheap, max_gross_exposure=D(1000))
    assert denied.action is RiskAction.DENY


def test_leverage_is_measured_on_any_positive_equity() -> None:
    small = book(equity="0.5")
    assert approved(decide(order(1, "4"), small, max_leverage=D(1000)), "4")  # 400 / 0.5 = 800
    assert reduced(decide(order(1, "6"), small, max_leverage=D(1000)), "5")


def test_a_strategy_missing_from_the_loss_books_has_lost_nothing() -> None:
    constraints = RiskConstraints(max_drawdown_pct=D("0.01"), max_daily_loss=D(1))
    others = book(strategy_equity_change_today={"S2": D(-5)}, strategy_drawdown_pct={"S2": D(1)})
    assert approved(check_order(order(1, "1"), others, constraints), "1")


def test_a_cut_below_one_unit_names_only_the_binding_rule() -> None:
    cut = decide(order(1, "4", size_increment=D("0.5")), max_order_quantity=D("0.5"))
    assert reduced(cut, "0.5") and rules(cut) == {RiskRule.MAX_ORDER_QUANTITY}


def test_positions_below_one_unit_reduce_too() -> None:
    assert reduces_risk(D("0.5"), -1, D("0.25"))
    assert not reduces_risk(D("0.5"), 1, D("0.25"))


def test_a_strategy_missing_from_the_order_counts_has_none_open() -> None:
    own = RiskConstraints(max_open_orders=1)
    assert approved(check_order(order(1, "1"), book(open_orders={"S2": 3}), own), "1")


def test_bad_intents_say_exactly_why() -> None:
    with pytest.raises(ValueError, match=r"^side must be \+1 \(buy\) or -1 \(sell\)$"):
        order(2, "1")
    with pytest.raises(ValueError, match=r"^quantity, price and size increment must be positive$"):
        order(1, "-1")


def test_a_gate_request_carries_the_order_and_no_decision_yet() -> None:
    request = GateRequest("S1", A, -1, D(3), D(101), "sig-1")
    assert (request.strategy_id, request.instrument_id, request.side) == ("S1", A, -1)
    assert (request.quantity, request.limit_price, request.signal_id) == (D(3), D(101), "sig-1")
    assert request.decision is None


def test_a_limit_that_may_not_reduce_names_no_minimum_for_a_cut_below_one_unit() -> None:
    strict = RiskConstraints(allow_reduce=False)
    fine = order(1, "4", size_increment=D("0.5"))
    denied = decide(fine, None, strict, max_order_quantity=D("0.5"))
    assert denied.action is RiskAction.DENY and rules(denied) == {RiskRule.MAX_ORDER_QUANTITY}


def test_a_position_without_a_mark_has_no_exposure_yet() -> None:
    unmarked = book({"S2": {"C.SIM": 1000}}, prices={A: D(100)})
    assert approved(decide(order(1, "1"), unmarked, max_gross_exposure=D(500)), "1")
    assert approved(decide(order(1, "1"), unmarked, max_net_exposure=D(500)), "1")
