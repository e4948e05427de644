"""The float screen at its boundaries, and the equity marks loss rules measure from."""

from decimal import Decimal
from typing import Any

import pytest

from quantdesk.domain.risk import RiskConstraints, RiskLimits, RiskRule
from quantdesk.domain.risk_screen import (
    EquityMarks,
    ScreenBook,
    ScreenLimits,
    clearly_approved,
    portfolio_loss_breach,
)

A, B = "A.SIM", "B.SIM"


def book(positions: dict[str, dict[str, float]] | None = None, **kwargs: Any) -> ScreenBook:
    return ScreenBook(
        equity=kwargs.pop("equity", 100_000.0),
        start_of_day_equity=kwargs.pop("start_of_day_equity", 100_000.0),
        high_water_mark=kwargs.pop("high_water_mark", 100_000.0),
        positions=positions or {},
        prices=kwargs.pop("prices", {A: 100.0, B: 100.0}),
        **kwargs,
    )


def passes(
    quantity: float,
    side: int = 1,
    state: ScreenBook | None = None,
    constraints: ScreenLimits | None = None,
    reducing: bool = False,
    **limits: Any,
) -> bool:
    return clearly_approved(
        "S1",
        A,
        side,
        quantity,
        100.0,
        reducing,
        state or book(),
        constraints or ScreenLimits(),
        ScreenLimits(**limits),
    )


@pytest.mark.parametrize(
    ("limits", "at"),
    [
        ({"max_order_quantity": 5.0}, 5.0),
        ({"max_order_notional": 500.0}, 5.0),
        ({"max_position": 5.0}, 5.0),
        ({"max_gross_exposure": 500.0}, 5.0),
        ({"max_net_exposure": 500.0}, 5.0),
        ({"max_leverage": 0.005}, 5.0),
    ],
)
def test_at_a_bound_the_screen_defers_and_well_inside_it_approves(
    limits: dict[str, float], at: float
) -> None:
    assert passes(at - 1, **limits)
    assert not passes(at, **limits)  # exactly at the bound: the exact check decides
    assert not passes(at * (1 - 1e-12), **limits)  # nearer than rounding could tell apart
    if "exposure" not in str(limits) and "leverage" not in str(limits):  # strategy scope too
        assert passes(at - 1, constraints=ScreenLimits(**limits))
        assert not passes(at, constraints=ScreenLimits(**limits))


def test_orders_are_measured_against_the_position_they_add_to() -> None:
    held = book({"S1": {A: 3.0}, "S2": {A: 1.0}})
    assert passes(0.5, state=held, max_position=5.0)
    assert not passes(1.0, state=held, max_position=5.0)  # net 4 + 1
    assert passes(1.5, state=held, constraints=ScreenLimits(max_position=5.0))
    assert not passes(2.0, state=held, constraints=ScreenLimits(max_position=5.0))
    assert not passes(4.0, -1, held, ScreenLimits(long_only=True))
    assert passes(2.0, -1, held, ScreenLimits(long_only=True))
    assert not passes(4.5, -1, held, long_only=True)  # the portfolio holds 4


@pytest.mark.parametrize(
    ("limits", "at", "inside"),
    [
        ({"max_daily_loss": 1000.0}, {"equity": 99_000.0}, {"equity": 99_100.0}),
        ({"max_daily_loss_pct": 0.01}, {"equity": 99_000.0}, {"equity": 99_100.0}),
        (
            {"max_drawdown_pct": 0.1},
            {"equity": 90_000.0, "start_of_day_equity": 90_000.0},
            {"equity": 90_100.0, "start_of_day_equity": 90_100.0},
        ),
    ],
)
def test_a_loss_equal_to_its_limit_is_never_screened_through(
    limits: dict[str, float], at: dict[str, float], inside: dict[str, float]
) -> None:
    assert passes(1.0, state=book(**inside), **limits)
    assert not passes(1.0, state=book(**at), **limits)
    assert passes(1.0, state=book(**at), reducing=True, **limits)  # getting out: no loss rule


def test_a_strategy_loss_is_its_own() -> None:
    constraints = ScreenLimits(max_daily_loss=500.0, max_drawdown_pct=0.2)
    at = book(strategy_equity_change_today={"S1": -500.0})
    assert not passes(1.0, state=at, constraints=constraints)
    deep = book(strategy_drawdown_pct={"S1": 0.2})
    assert not passes(1.0, state=deep, constraints=constraints)
    others = book(strategy_equity_change_today={"S2": -1e9}, strategy_drawdown_pct={"S2": 1.0})
    assert passes(1.0, state=others, constraints=constraints)
    pct = book(equity=1000.0, start_of_day_equity=1000.0, strategy_equity_change_today={"S1": -10})
    assert not passes(1.0, state=pct, constraints=ScreenLimits(max_daily_loss_pct=0.01))
    assert passes(1.0, state=pct, constraints=ScreenLimits(max_daily_loss_pct=0.02))


def test_open_orders_instruments_and_equity_defer() -> None:
    counted = book(open_orders={"S1": 1, "S2": 1})
    assert not passes(1.0, state=counted, max_open_orders=2)
    assert passes(1.0, state=counted, constraints=ScreenLimits(max_open_orders=2))
    assert not passes(
        1.0, state=book(open_orders={"S1": 2}), constraints=ScreenLimits(max_open_orders=2)
    )
    assert not passes(1.0, allowed_instruments=frozenset({B}))
    assert passes(1.0, allowed_instruments=frozenset({A}))
    assert not passes(1.0, state=book(equity=0.0), max_leverage=10.0)


def test_exposure_counts_every_instrument_at_its_mark() -> None:
    other = book({"S2": {B: 3.0}})  # 300 in B
    assert passes(1.0, state=other, max_gross_exposure=500.0)
    assert not passes(2.0, state=other, max_gross_exposure=500.0)
    assert not passes(2.0, state=other, max_net_exposure=500.0)
    assert passes(2.0, -1, other, max_net_exposure=500.0)  # net 300 - 200
    short = book({"S2": {B: -3.0}})
    assert passes(2.0, -1, short, max_gross_exposure=600.0)
    assert not passes(2.0, -1, short, max_net_exposure=500.0)
    unmarked = book({"S2": {B: 300.0}}, prices={A: 100.0})  # no mark: no exposure yet
    assert passes(2.0, state=unmarked, max_gross_exposure=500.0)


def test_a_breach_being_shrunk_is_left_to_the_exact_check() -> None:
    short = book({"S2": {A: -20.0}})  # net exposure -2,000 past 1,000
    assert not passes(1.0, state=short, max_net_exposure=1000.0)


def test_limits_convert_once_with_every_field() -> None:
    limits = RiskLimits(
        max_position=Decimal(1),
        max_order_quantity=Decimal(2),
        max_order_notional=Decimal(3),
        max_open_orders=4,
        max_daily_loss=Decimal(5),
        max_daily_loss_pct=Decimal("0.6"),
        max_drawdown_pct=Decimal("0.7"),
        allowed_instruments=frozenset({A}),
        long_only=True,
        max_gross_exposure=Decimal(8),
        max_net_exposure=Decimal(9),
        max_leverage=Decimal(10),
    )
    assert ScreenLimits.of(limits) == ScreenLimits(
        1.0, 2.0, 3.0, 4, 5.0, 0.6, 0.7, frozenset({A}), True, 8.0, 9.0, 10.0
    )
    own = ScreenLimits.of(RiskConstraints(max_position=Decimal("1.5")))
    assert own == ScreenLimits(max_position=1.5)
    assert ScreenLimits.of(None) == ScreenLimits()


# --- equity marks ---------------------------------------------------------------------------


def test_the_high_water_mark_rises_with_equity_and_never_falls() -> None:
    marks = EquityMarks.at_start(1000.0)
    marks.observe(0, 1200.0, {"S1": 1200.0})
    assert marks.high_water_mark == 1200.0
    marks.observe(0, 1100.0, {"S1": 1100.0})
    assert marks.high_water_mark == 1200.0
    assert marks.strategy_high_water_mark == {"S1": 1200.0}
    change, drawdown = marks.strategy_losses({"S1": 900.0, "S2": 1000.0})
    assert drawdown == {"S1": pytest.approx(0.25), "S2": 0.0}
    assert change == {"S1": pytest.approx(-300.0), "S2": 0.0}


def test_a_new_day_starts_from_that_days_first_sample() -> None:
    marks = EquityMarks.at_start(1000.0)
    assert marks.observe(0, 990.0, {"S1": 990.0})
    assert (marks.start_of_day, marks.strategy_start_of_day) == (990.0, {"S1": 990.0})
    assert not marks.observe(0, 950.0, {"S1": 950.0})
    assert marks.start_of_day == 990.0
    assert marks.observe(1, 940.0, {"S1": 940.0})
    assert marks.start_of_day == 940.0 and marks.day == 1
    assert marks.high_water_mark == 1000.0


def test_a_strategy_with_no_peak_has_no_drawdown() -> None:
    marks = EquityMarks.at_start(0.0)
    assert marks.strategy_losses({"S1": -5.0}) == ({"S1": -5.0}, {"S1": 0.0})


def test_a_drawdown_from_a_risen_peak_breaches() -> None:
    limits = ScreenLimits(max_drawdown_pct=0.1)
    marks = EquityMarks.at_start(1000.0)
    marks.observe(0, 2000.0, {})
    assert portfolio_loss_breach(1800.0, marks, limits) == (RiskRule.MAX_DRAWDOWN_PCT, 0.1)
    assert portfolio_loss_breach(1801.0, marks, limits) is None


@pytest.mark.parametrize(
    ("limits", "rule", "value"),
    [
        (ScreenLimits(max_daily_loss=100.0), RiskRule.MAX_DAILY_LOSS, 100.0),
        (ScreenLimits(max_daily_loss_pct=0.1), RiskRule.MAX_DAILY_LOSS_PCT, 0.1),
        (ScreenLimits(max_drawdown_pct=0.1), RiskRule.MAX_DRAWDOWN_PCT, 0.1),
    ],
)
def test_a_portfolio_loss_equal_to_its_limit_breaches(
    limits: ScreenLimits, rule: RiskRule, value: float
) -> None:
    marks = EquityMarks.at_start(1000.0)
    assert portfolio_loss_breach(900.0, marks, limits) == (rule, pytest.approx(value))
    assert portfolio_loss_breach(900.01, marks, limits) is None


def test_drawdown_is_named_before_the_daily_loss() -> None:
    both = ScreenLimits(max_drawdown_pct=0.1, max_daily_loss=1.0, max_daily_loss_pct=0.01)
    marks = EquityMarks.at_start(1000.0)
    assert portfolio_loss_breach(800.0, marks, both) == (
        RiskRule.MAX_DRAWDOWN_PCT,
        pytest.approx(0.2),
    )
    loss_only = ScreenLimits(max_daily_loss=1.0, max_daily_loss_pct=0.01)
    assert portfolio_loss_breach(800.0, marks, loss_only) == (RiskRule.MAX_DAILY_LOSS, 200.0)


def test_no_equity_at_the_start_or_peak_means_no_share_to_breach() -> None:
    marks = EquityMarks.at_start(0.0)
    limits = ScreenLimits(max_daily_loss_pct=0.01, max_drawdown_pct=0.01)
    assert portfolio_loss_breach(-50.0, marks, limits) is None


# --- the margin, small numbers and missing entries -------------------------------------------


def test_the_margin_is_one_part_in_a_billion_or_one_billionth_below_one() -> None:
    limits = ScreenLimits(max_drawdown_pct=0.1)
    at_margin = book(strategy_drawdown_pct={"S1": 0.1 - 1e-9})
    assert not passes(1.0, state=at_margin, constraints=limits)
    assert not passes(
        1.0, state=book(strategy_drawdown_pct={"S1": 0.1 - 5e-10}), constraints=limits
    )
    assert passes(1.0, state=book(strategy_drawdown_pct={"S1": 0.1 - 1.5e-9}), constraints=limits)


def test_marks_and_equity_below_one_are_still_measured() -> None:
    small = book(equity=0.25, start_of_day_equity=0.5, high_water_mark=0.5)
    assert not passes(1.0, state=small, max_drawdown_pct=0.4)
    assert not passes(1.0, state=small, max_daily_loss_pct=0.4)
    assert passes(1.0, state=book(equity=0.5), max_leverage=1000.0)  # 100 / 0.5 = 200
    marks = EquityMarks.at_start(0.5)
    assert portfolio_loss_breach(0.25, marks, ScreenLimits(max_drawdown_pct=0.4)) == (
        RiskRule.MAX_DRAWDOWN_PCT,
        0.5,
    )
    assert portfolio_loss_breach(0.25, marks, ScreenLimits(max_daily_loss_pct=0.4)) == (
        RiskRule.MAX_DAILY_LOSS_PCT,
        0.5,
    )
    assert marks.strategy_losses({"S1": 0.25})[1] == {"S1": 0.5}


def test_no_peak_or_start_of_day_means_no_share_to_screen() -> None:
    nothing = book(equity=-5.0, start_of_day_equity=0.0, high_water_mark=0.0)
    assert passes(1.0, state=nothing, max_drawdown_pct=0.5, max_daily_loss_pct=0.5)


def test_missing_entries_count_as_nothing_held_or_open() -> None:
    other = book({"S2": {B: 1.0}})  # no strategy holds A
    assert passes(4.9, state=other, max_position=5.0)
    assert passes(
        1.0, state=book(open_orders={"S2": 5}), constraints=ScreenLimits(max_open_orders=1)
    )
    unpriced = book({"S2": {A: 1000.0}}, prices={})  # A held but not yet marked: worth 0
    assert passes(1.0, state=unpriced, max_gross_exposure=500.0)


def test_the_order_changes_its_own_instruments_exposure() -> None:
    held = book({"S1": {A: 4.0}, "S2": {A: 1.0, B: 1.0}})  # 500 in A, 100 in B
    assert passes(1.0, -1, held, max_gross_exposure=550.0)  # 400 + 100
    assert not passes(1.0, 1, held, max_gross_exposure=650.0)  # 600 + 100
    assert passes(1.0, -1, held, max_net_exposure=550.0)
