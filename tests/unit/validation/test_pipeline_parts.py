"""The validation pipeline's pure parts: checks against thresholds, period cuts and their
regime labels, risk compliance over outcomes, the daily series of trials."""

import itertools
from typing import cast

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.domain.backtest import Metrics
from quantdesk.domain.signals import AISignal
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.domain.strategies.problems import parse_definition
from quantdesk.domain.trials import TrialOutcome
from quantdesk.domain.validation.policy import Thresholds
from quantdesk.domain.validation.report import PeriodRow, ValidationStep
from quantdesk.services.performance import DAY_NS
from quantdesk.services.ports import SignalStore
from quantdesk.services.validation.checks import at_least, at_most, loss_at_most, step_report
from quantdesk.services.validation.compliance import compliance_section
from quantdesk.services.validation.periods import (
    BUILTIN_SOURCE,
    UNKNOWN_REGIME,
    RegimeLabeller,
    bar_labels,
    majority,
    period_ranges,
    periods_section,
)
from quantdesk.services.validation.trial_series import (
    annual_sharpe,
    daily_returns,
    returns_matrix,
    thin,
)
from support.closes_catalog import InMemoryCloses, minute_closes
from support.signals import signal

STEP = ValidationStep.WALK_FORWARD
T0 = 1_704_067_200_000_000_000


def metrics(**fields: float) -> Metrics:
    values: dict[str, float | int | None] = {
        "start_equity": 100.0,
        "end_equity": 110.0,
        "pnl": 10.0,
        "total_return": 0.1,
        "cagr": None,
        "annual_volatility": None,
        "sharpe": None,
        "sortino": None,
        "calmar": None,
        "max_drawdown": -0.05,
        "max_drawdown_duration_ns": 0,
        "trade_count": 3,
        "win_rate": None,
        "profit_factor": None,
        "avg_win": None,
        "avg_loss": None,
        "expectancy": None,
        "exposure": 0.5,
        "turnover": 1.0,
        "fees": 0.0,
        "periods_per_year": 365.0,
        **fields,
    }
    return Metrics.model_validate(values)


def outcome(key: str, equity: list[float], **fields: object) -> TrialOutcome:
    return TrialOutcome(
        key=key,
        fingerprint=f"fp-{key}",
        metrics=metrics(),
        daily_ts=[T0 + (i + 1) * DAY_NS - 1 for i in range(len(equity))],
        daily_equity=equity,
        start_equity=100.0,
        **fields,
    )


# --- checks ----------------------------------------------------------------------------------


def test_a_none_threshold_makes_no_check_and_a_missing_value_fails() -> None:
    assert at_least("x", STEP, 1.0, None) == []
    [missing] = at_least("x", STEP, None, 0.5)
    assert not missing.passed and "no value" in missing.detail
    [low] = at_least("x", STEP, 0.4, 0.5)
    [high] = at_most("x", STEP, 0.4, 0.5)
    assert (low.passed, high.passed) == (False, True)
    [loss] = loss_at_most("dd", STEP, -0.3, 0.25)  # a 30% drawdown against a 25% limit
    assert (loss.value, loss.passed) == (0.3, False)


def test_a_skipped_step_fails_even_with_every_check_passing() -> None:
    checks = at_least("x", STEP, 1.0, 0.5)
    assert step_report(STEP, checks).passed
    skipped = step_report(STEP, checks, skipped="range too short")
    assert not skipped.passed
    assert [c.name for c in skipped.checks if not c.passed] == ["walk_forward_ran"]


# --- periods ---------------------------------------------------------------------------------


# Property: the periods tile the range (consecutive, disjoint, inclusive) and start on days.
@settings(max_examples=200, deadline=None)
@given(
    days=st.integers(min_value=0, max_value=400),
    extra=st.integers(min_value=0, max_value=DAY_NS - 1),
    periods=st.integers(min_value=2, max_value=60),
)
def test_periods_tile_the_range_on_whole_days(days: int, extra: int, periods: int) -> None:
    start, end = T0, T0 + days * DAY_NS + extra
    ranges = period_ranges(start, end, periods)
    if days < 2:
        assert ranges == []
        return
    assert len(ranges) == min(periods, days)
    assert ranges[0][0] == start and ranges[-1][1] == end
    for (a, b), (c, _) in itertools.pairwise(ranges):
        assert a <= b and c == b + 1 and (c - start) % DAY_NS == 0


def test_labels_are_the_models_and_a_period_takes_its_majority() -> None:
    rng = np.random.default_rng(3)
    usual = 0.003 * rng.standard_normal(400)
    wild_down = -0.003 + 0.01 * rng.standard_normal(300)  # more volatile than usual, falling
    quiet_up = 0.0005 + 0.001 * rng.standard_normal(400)  # calmer than usual, rising
    returns = np.concatenate(([0.0], usual, wild_down, quiet_up))
    labels = bar_labels(100 * np.exp(np.cumsum(returns)))
    assert labels[0] == UNKNOWN_REGIME  # warm-up
    assert majority(labels[460:700]) == "bear_volatile"
    assert majority(labels[760:]) == "bull_quiet"
    assert majority([UNKNOWN_REGIME] * 3) == UNKNOWN_REGIME


def test_the_worst_period_and_regime_are_named() -> None:
    def row(index: int, regime: str, ret: float) -> PeriodRow:
        return PeriodRow(
            index=index,
            start_ns=index,
            end_ns=index,
            regime=regime,
            total_return=ret,
            sharpe=None,
            max_drawdown=-abs(ret),
            trades=1,
            fingerprint="f",
        )

    rows = [row(0, "bull_quiet", 0.02), row(1, "bear_volatile", -0.01), row(2, "bull_quiet", -0.03)]
    section, [check] = periods_section("m", rows, Thresholds(min_worst_period_return=-0.02))
    assert section.worst_period == 2
    assert section.worst_regime == "bear_volatile"  # mean -0.01 vs bull_quiet's -0.005
    assert (check.value, check.passed) == (-0.03, False)


class _Signals:
    """Only what the labeller reads of a signal store: flush and query."""

    def __init__(self, signals: list[AISignal]) -> None:
        self._signals = signals

    def flush(self) -> int:
        return 0

    def query(self, **_: object) -> list[AISignal]:
        return self._signals


def _regime_definition(subscribed: bool) -> StrategyDefinition:
    return parse_definition(
        {
            "strategy_id": "r",
            "family": "trend_following",
            "name": "r",
            "instruments": ["ACME.XNAS"],
            "signal_subscriptions": ["REGIME_PREDICTION"] if subscribed else [],
            "parameters": {"fast_period": 5, "slow_period": 20, "trade_size": "10"},
        }
    )


def test_periods_take_the_strategys_regime_signals_when_it_subscribes() -> None:
    day0 = T0 // DAY_NS * DAY_NS
    ranges = [(day0, day0 + DAY_NS - 1), (day0 + DAY_NS, day0 + 2 * DAY_NS - 1)]
    regimes = [
        signal(
            signal_type="REGIME_PREDICTION",
            ts_event=day0 + hour * 3_600_000_000_000,
            value={"label": label, "probabilities": {"bull": 0.6, "bear": 0.4}},
        )
        for hour, label in ((1, "bull"), (2, "bull"), (3, "bear"), (30, "bear"))
    ]
    closes = InMemoryCloses()
    rng = np.random.default_rng(1)
    ts, close = minute_closes(0.001 * rng.standard_normal(3000))
    closes.put("ACME.XNAS", ts, close)
    labeller = RegimeLabeller(closes.as_catalog(), cast(SignalStore, _Signals(regimes)))
    source, labels = labeller.label(_regime_definition(True), ranges)
    assert (source, labels) == ("test-model", ["bull", "bear"])
    source, _ = labeller.label(_regime_definition(False), ranges)
    assert source == BUILTIN_SOURCE  # not subscribed: the built-in model
    empty = RegimeLabeller(closes.as_catalog(), cast(SignalStore, _Signals([])))
    assert empty.label(_regime_definition(True), ranges)[0] == BUILTIN_SOURCE


# --- compliance ------------------------------------------------------------------------------


def test_storms_and_position_breaches_are_named() -> None:
    definition = parse_definition(
        {
            "strategy_id": "t",
            "family": "trend_following",
            "name": "t",
            "instruments": ["SYN01.SIM"],
            "risk": {"max_position": "10"},
            "parameters": {"fast_period": 5, "slow_period": 20, "trade_size": "10"},
        }
    )
    calm = outcome("calm", [101.0], orders=10, orders_denied=1, positions_max={"SYN01.SIM": 10.0})
    storm = outcome("storm", [101.0], orders=2, orders_denied=8)
    big = outcome("big", [101.0], orders=4, positions_max={"SYN01.SIM": 20.0})
    section, checks = compliance_section(
        definition, [calm, storm, big], Thresholds(max_risk_breaches=0, max_denial_ratio=0.5)
    )
    assert section.denial_storms == ["storm"]
    assert section.position_breaches == ["big: SYN01.SIM held 20 > max_position 10"]
    assert section.max_denial_ratio == pytest.approx(0.8)
    assert [(c.name, c.value, c.passed) for c in checks] == [
        ("risk_breaches", 2, False),
        ("max_denial_ratio", pytest.approx(0.8), False),
    ]
    _, clean = compliance_section(definition, [calm], Thresholds())
    assert all(c.passed for c in clean)


# --- series ----------------------------------------------------------------------------------


def test_daily_returns_start_from_the_starting_equity() -> None:
    days, returns = daily_returns(outcome("a", [110.0, 99.0]))
    assert returns == pytest.approx([0.1, -0.1])
    assert days.tolist() == [T0 // DAY_NS, T0 // DAY_NS + 1]
    failed = TrialOutcome(key="f", error="no data", code="x")
    assert daily_returns(failed)[1].shape == (0,)


def test_the_returns_matrix_aligns_days_and_a_missing_day_is_flat() -> None:
    a = outcome("a", [110.0, 121.0])
    b = outcome("b", [90.0])
    days, matrix = returns_matrix([a, b])
    assert days.shape == (2,)
    assert matrix.ravel().tolist() == pytest.approx([0.1, -0.1, 0.1, 0.0])


def test_sharpe_and_thinning() -> None:
    returns = np.array([0.01, -0.005, 0.02, 0.0])
    expected = returns.mean() / returns.std(ddof=1) * np.sqrt(365)
    assert annual_sharpe(returns, 365.0) == pytest.approx(expected)
    assert annual_sharpe(np.zeros(5), 365.0) is None
    points = [(i, float(i)) for i in range(5000)]
    thinned = thin(points, 100)
    assert len(thinned) == 100 and thinned[0] == points[0] and thinned[-1] == points[-1]
