"""The performance definitions on curves and trades small enough to work out by hand."""

import math
import statistics

import numpy as np
import pytest

from quantdesk.domain.backtest import FillRecord, PositionRecord
from quantdesk.services.performance import (
    EquityCurve,
    attribute,
    build_equity_curve,
    compute_metrics,
    daily_returns,
    drawdown,
    drawdown_of,
)

DAY = 86_400_000_000_000
HOUR = 3_600_000_000_000


def fill(
    ts: int,
    side: int,
    quantity: float,
    price: float,
    commission: float = 0.0,
    instrument: str = "A.SIM",
    strategy: str = "S-1",
) -> FillRecord:
    return FillRecord(
        ts_ns=ts,
        strategy_id=strategy,
        instrument_id=instrument,
        order_id=f"O-{ts}",
        trade_id=f"T-{ts}",
        position_id=f"P-{instrument}",
        side=side,
        quantity=quantity,
        price=price,
        commission=commission,
        commission_currency="USD",
    )


def position(pnl: float, strategy: str = "S-1") -> PositionRecord:
    return PositionRecord(
        strategy_id=strategy,
        instrument_id="A.SIM",
        position_id="P-1",
        side=1,
        peak_quantity=1.0,
        opened_ns=0,
        closed_ns=1,
        avg_px_open=1.0,
        avg_px_close=1.0,
        realized_pnl=pnl,
        commissions=0.0,
    )


def bars(ts: list[int], close: list[float]) -> tuple[np.ndarray, np.ndarray]:
    return np.array(ts, dtype=np.int64), np.array(close, dtype=np.float64)


def curve(ts: list[int], equity: list[float], in_market: list[bool] | None = None) -> EquityCurve:
    return EquityCurve(
        ts_ns=np.array(ts, dtype=np.int64),
        equity=np.array(equity, dtype=np.float64),
        in_market=np.array(in_market or [False] * len(ts), dtype=np.bool_),
    )


# --- the equity curve ---------------------------------------------------------------------


def test_round_trip_is_marked_to_market_at_every_close() -> None:
    closes = {"A.SIM": bars([10, 20, 30, 40], [100.0, 105.0, 110.0, 108.0])}
    fills = [fill(10, +1, 10, 100.0, 1.0), fill(30, -1, 10, 110.0, 1.0)]

    result = build_equity_curve(fills, closes, 1000.0)

    # t10: cash -1001, 10 @ 100 -> 999; t20: 10 @ 105 -> 1049; t30: cash 98, flat -> 1098.
    assert result.ts_ns.tolist() == [10, 20, 30, 40]
    assert result.equity.tolist() == [999.0, 1049.0, 1098.0, 1098.0]
    assert result.in_market.tolist() == [True, True, False, False]


def test_fill_order_does_not_matter() -> None:
    closes = {"A.SIM": bars([10, 20, 30, 40], [100.0, 105.0, 110.0, 108.0])}
    fills = [fill(10, +1, 10, 100.0, 1.0), fill(30, -1, 10, 110.0, 1.0)]

    forward = build_equity_curve(fills, closes, 1000.0)
    backward = build_equity_curve(fills[::-1], closes, 1000.0)

    assert backward.equity.tolist() == forward.equity.tolist()
    assert backward.in_market.tolist() == forward.in_market.tolist()


def test_fills_between_bars_apply_from_the_next_close() -> None:
    closes = {"A.SIM": bars([10, 20, 30, 40], [100.0, 105.0, 110.0, 108.0])}
    fills = [
        fill(5, +1, 1, 99.0),  # before the first bar: applies at 10
        fill(15, +1, 2, 102.0),  # between 10 and 20: applies at 20
        fill(41, -1, 3, 108.0),  # after the last bar: outside the run
    ]

    result = build_equity_curve(fills, closes, 1000.0)

    # t10: 1000 - 99 + 1*100 = 1001; t20: 1000 - 99 - 204 + 3*105 = 1012;
    # t30: 1000 - 303 + 330 = 1027; t40: 1000 - 303 + 324 = 1021.
    assert result.equity.tolist() == [1001.0, 1012.0, 1027.0, 1021.0]
    assert result.in_market.tolist() == [True, True, True, True]


def test_two_instruments_forward_fill_their_closes_on_the_union_of_timestamps() -> None:
    closes = {
        "A.SIM": bars([10, 30], [100.0, 120.0]),
        "B.SIM": bars([20, 40], [50.0, 55.0]),
    }
    fills = [
        fill(10, +1, 1, 100.0, instrument="A.SIM"),
        fill(20, +1, 2, 50.0, instrument="B.SIM"),
    ]

    result = build_equity_curve(fills, closes, 1000.0)

    # t10: A 100; t20: A still 100, B 50; t30: A 120, B still 50; t40: B 55.
    assert result.ts_ns.tolist() == [10, 20, 30, 40]
    assert result.equity.tolist() == [1000.0, 1000.0, 1020.0, 1030.0]


def test_timestamps_shared_by_instruments_are_one_curve_point() -> None:
    closes = {
        "A.SIM": bars([10, 20, 30], [100.0, 101.0, 102.0]),
        "B.SIM": bars([20, 25, 30], [50.0, 51.0, 52.0]),
    }
    fills = [fill(20, +1, 1, 50.0, instrument="B.SIM")]

    result = build_equity_curve(fills, closes, 1000.0)

    assert result.ts_ns.tolist() == [10, 20, 25, 30]
    assert result.equity.tolist() == [1000.0, 1000.0, 1001.0, 1002.0]


def test_a_position_before_its_instruments_first_bar_is_not_marked() -> None:
    closes = {
        "A.SIM": bars([10, 30], [100.0, 120.0]),
        "B.SIM": bars([20, 40], [50.0, 55.0]),
    }
    fills = [fill(5, +1, 1, 50.0, instrument="B.SIM")]  # applies at 10, B has no close yet

    result = build_equity_curve(fills, closes, 1000.0)

    assert result.equity.tolist() == [950.0, 1000.0, 1000.0, 1005.0]
    assert result.in_market.tolist() == [True, True, True, True]


def test_float_residue_of_a_round_trip_is_flat() -> None:
    closes = {"A.SIM": bars([10, 20, 30], [1.0, 2.0, 3.0])}
    fills = [fill(10, +1, 0.1, 1.0), fill(10, +1, 0.2, 1.0), fill(20, -1, 0.3, 2.0)]
    assert 0.1 + 0.2 - 0.3 != 0.0  # the residue this guards against

    result = build_equity_curve(fills, closes, 100.0)

    assert result.in_market.tolist() == [True, False, False]
    assert result.equity[1] == result.equity[2]  # nothing left to mark


def test_no_fills_is_a_flat_curve_out_of_the_market() -> None:
    result = build_equity_curve([], {"A.SIM": bars([10, 20], [1.0, 2.0])}, 500.0)

    assert result.equity.tolist() == [500.0, 500.0]
    assert result.in_market.tolist() == [False, False]


# --- drawdown ------------------------------------------------------------------------------


def test_drawdown_and_its_longest_duration() -> None:
    c = curve([0, 10, 20, 30, 40, 50, 60, 70], [100, 110, 99, 105, 110, 120, 90, 100])

    dd = drawdown(c)
    metrics = compute_metrics(c, [], [], 100.0)

    expected = [0, 0, 99 / 110 - 1, 105 / 110 - 1, 0, 0, 90 / 120 - 1, 100 / 120 - 1]
    assert dd.tolist() == pytest.approx(expected, rel=1e-12)
    assert metrics.max_drawdown == pytest.approx(-0.25, rel=1e-12)
    # Peak at 10 recovered at 40 (30 ns); peak at 50 never recovered by 70 (20 ns).
    assert metrics.max_drawdown_duration_ns == 30


def test_an_unrecovered_drawdown_lasts_to_the_end_from_the_last_point_at_the_peak() -> None:
    c = curve([0, 10, 20, 30, 100], [100, 90, 100, 100, 80])

    metrics = compute_metrics(c, [], [], 100.0)

    # First drawdown 0 -> 20; the second starts at 30 (the last point at the peak) -> 100.
    assert metrics.max_drawdown_duration_ns == 70
    assert metrics.max_drawdown == pytest.approx(-0.2, rel=1e-12)


@pytest.mark.parametrize("equity", [[100, 100, 100], [100, 101, 102], [100]])
def test_never_below_the_peak_has_no_drawdown(equity: list[float]) -> None:
    c = curve(list(range(len(equity))), equity)

    metrics = compute_metrics(c, [], [], 100.0)

    assert drawdown(c).tolist() == [0.0] * len(equity)
    assert metrics.max_drawdown == 0.0
    assert metrics.max_drawdown_duration_ns == 0
    assert metrics.calmar is None


# --- daily returns and the ratios ----------------------------------------------------------


def test_daily_returns_and_annualised_ratios() -> None:
    noon = 12 * HOUR
    ts = [noon, noon + 6 * HOUR, DAY + noon, 3 * DAY + noon]  # no data on day 2
    c = curve(ts, [1010.0, 1020.0, 1071.0, 1017.45], [True, False, True, False])
    fills = [fill(ts[0], +1, 2, 50.0, 0.5), fill(ts[2], -1, 1, 100.0, 0.25)]

    days, returns = daily_returns(c, 1000.0)
    m = compute_metrics(c, [], fills, 1000.0)

    r = [1020 / 1000 - 1, 1071 / 1020 - 1, 1017.45 / 1071 - 1]
    assert days.tolist() == [0, 1, 3]
    assert returns.tolist() == pytest.approx(r, rel=1e-12)
    years = 3 / 365.25
    ppy = 3 / years
    mean, std = statistics.fmean(r), statistics.stdev(r)
    downside = math.sqrt(r[2] ** 2 / 3)
    cagr = (1017.45 / 1000) ** (1 / years) - 1
    assert m.start_equity == 1000.0
    assert m.end_equity == 1017.45
    assert m.pnl == pytest.approx(17.45, rel=1e-12)
    assert m.total_return == pytest.approx(0.01745, rel=1e-12)
    assert m.periods_per_year == pytest.approx(365.25, rel=1e-12)
    assert m.cagr == pytest.approx(cagr, rel=1e-9)
    assert m.annual_volatility == pytest.approx(std * math.sqrt(ppy), rel=1e-9)
    assert m.sharpe == pytest.approx(mean / std * math.sqrt(ppy), rel=1e-9)
    assert m.sortino == pytest.approx(mean / downside * math.sqrt(ppy), rel=1e-9)
    assert m.max_drawdown == pytest.approx(1017.45 / 1071 - 1, rel=1e-12)
    assert m.calmar == pytest.approx(cagr / (1 - 1017.45 / 1071), rel=1e-9)
    assert m.max_drawdown_duration_ns == 2 * DAY
    assert m.exposure == 0.5
    assert m.fees == 0.75
    assert m.turnover == pytest.approx(200 / ((1010 + 1020 + 1071 + 1017.45) / 4), rel=1e-12)


def test_a_single_instant_has_no_annualised_figures() -> None:
    m = compute_metrics(curve([5 * DAY], [1100.0]), [], [], 1000.0)

    assert m.total_return == pytest.approx(0.1, rel=1e-12)
    assert m.periods_per_year is None
    assert m.cagr is None
    assert m.annual_volatility is None
    assert m.sharpe is None
    assert m.sortino is None
    assert m.calmar is None


def test_no_variance_and_no_losing_day_give_no_sharpe_or_sortino() -> None:
    m = compute_metrics(curve([0, DAY, 2 * DAY], [1000.0, 1000.0, 1000.0]), [], [], 1000.0)

    assert m.annual_volatility == 0.0
    assert m.sharpe is None
    assert m.sortino is None
    assert m.cagr == 0.0


def test_a_wiped_out_account_has_no_cagr() -> None:
    m = compute_metrics(curve([0, DAY], [500.0, -10.0]), [], [], 1000.0)

    assert m.cagr is None
    assert m.calmar is None
    assert m.total_return == pytest.approx(-1.01, rel=1e-12)


def test_compounding_a_gain_over_minutes_overflows_to_no_cagr() -> None:
    minute = 60_000_000_000
    m = compute_metrics(curve([0, minute], [1000.0, 1100.0]), [], [], 1000.0)

    assert m.cagr is None
    assert m.calmar is None
    assert m.periods_per_year == pytest.approx(365.25 * 24 * 60, rel=1e-12)


# --- trades --------------------------------------------------------------------------------

FLAT = curve([0, DAY], [1000.0, 1000.0])


def test_trade_statistics() -> None:
    m = compute_metrics(FLAT, [position(p) for p in (10, -5, 20, 0, -15)], [], 1000.0)

    assert m.trade_count == 5
    assert m.win_rate == 0.4
    assert m.profit_factor == 1.5
    assert m.avg_win == 15.0
    assert m.avg_loss == -10.0
    assert m.expectancy == 2.0


def test_no_trades() -> None:
    m = compute_metrics(FLAT, [], [], 1000.0)

    assert m.trade_count == 0
    assert m.win_rate is None
    assert m.profit_factor is None
    assert m.avg_win is None
    assert m.avg_loss is None
    assert m.expectancy is None


def test_only_winners_have_no_profit_factor() -> None:
    m = compute_metrics(FLAT, [position(4), position(2)], [], 1000.0)

    assert m.win_rate == 1.0
    assert m.profit_factor is None
    assert m.avg_win == 3.0
    assert m.avg_loss is None


def test_only_losers_have_a_zero_profit_factor() -> None:
    m = compute_metrics(FLAT, [position(-4), position(0)], [], 1000.0)

    assert m.win_rate == 0.0
    assert m.profit_factor == 0.0
    assert m.avg_win is None
    assert m.avg_loss == -4.0
    assert m.expectancy == -2.0


# --- errors and attribution ----------------------------------------------------------------


def test_an_empty_curve_is_refused() -> None:
    empty = build_equity_curve([], {}, 1000.0)

    with pytest.raises(ValueError, match="equity curve is empty"):
        compute_metrics(empty, [], [], 1000.0)
    with pytest.raises(ValueError, match="equity curve is empty"):
        drawdown(empty)
    with pytest.raises(ValueError, match="equity curve is empty"):
        daily_returns(empty, 1000.0)


def test_attribution_splits_the_run_by_strategy() -> None:
    closes = {
        "A.SIM": bars([10, 30], [100.0, 120.0]),
        "B.SIM": bars([20, 40], [50.0, 55.0]),
    }
    fills = [
        fill(20, +1, 2, 50.0, 1.0, instrument="B.SIM", strategy="S-2"),
        fill(10, +1, 1, 100.0, 1.0, instrument="A.SIM", strategy="S-1"),
        fill(30, -1, 1, 120.0, 1.0, instrument="A.SIM", strategy="S-1"),
    ]
    positions = [position(18.0, "S-1")]

    total = compute_metrics(build_equity_curve(fills, closes, 1000.0), positions, fills, 1000.0)
    parts = attribute(fills, positions, closes, 1000.0)

    assert [p.strategy_id for p in parts] == ["S-1", "S-2"]
    assert [p.instruments for p in parts] == [["A.SIM"], ["B.SIM"]]
    # S-1: bought 100, sold 120, 2 commission -> 18; S-2: 2 @ 50 marked at 55, 1 fee -> 9.
    assert [p.metrics.pnl for p in parts] == [18.0, 9.0]
    assert total.pnl == 27.0
    assert parts[0].metrics.trade_count == 1
    assert parts[1].metrics.trade_count == 0
    assert parts[1].metrics.max_drawdown_duration_ns == 0


def test_a_lone_strategy_trading_every_instrument_reuses_the_runs_analysis() -> None:
    closes = {
        "A.SIM": bars([10, 30, 50], [100.0, 120.0, 90.0]),
        "B.SIM": bars([20, 40], [50.0, 55.0]),
    }
    fills = [
        fill(10, +1, 1, 100.0, 1.0, instrument="A.SIM", strategy="S-1"),
        fill(20, +1, 2, 50.0, 1.0, instrument="B.SIM", strategy="S-1"),
        fill(30, -1, 1, 120.0, 1.0, instrument="A.SIM", strategy="S-1"),
    ]
    positions = [position(18.0, "S-1")]
    curve = build_equity_curve(fills, closes, 1000.0)
    total = compute_metrics(curve, positions, fills, 1000.0)

    (reused,) = attribute(fills, positions, closes, 1000.0, run=(curve, total))
    (computed,) = attribute(fills, positions, closes, 1000.0)

    assert reused.metrics is total  # no second curve
    assert reused == computed  # and the same figures a separate analysis gives
    # An instrument the strategy never traded is not its data: its own analysis runs.
    wider = {**closes, "C.SIM": bars([5, 60], [1.0, 2.0])}
    (own,) = attribute(fills, positions, wider, 1000.0, run=(curve, total))
    assert own.metrics is not total and own.instruments == ["A.SIM", "B.SIM"]


# --- edges the mutation check found untested ------------------------------------------------


def test_an_instrument_without_fills_in_the_run_does_not_stop_the_others_being_marked() -> None:
    closes = {"A.SIM": bars([10, 20], [100.0, 101.0]), "B.SIM": bars([10, 20], [50.0, 52.0])}
    fills = [
        fill(99, +1, 1, 100.0, instrument="A.SIM"),  # after the last point: outside the run
        fill(10, +1, 1, 50.0, instrument="B.SIM"),
    ]

    result = build_equity_curve(fills, closes, 1000.0)

    assert result.equity.tolist() == [1000.0, 1002.0]
    assert result.in_market.tolist() == [True, True]


def test_a_never_priced_instrument_is_held_unmarked_and_the_next_one_still_marked() -> None:
    closes = {"B.SIM": bars([10, 20], [50.0, 52.0]), "C.SIM": bars([], [])}
    fills = [
        fill(10, +1, 1, 30.0, instrument="A.SIM"),  # no closes at all
        fill(10, +1, 1, 40.0, instrument="C.SIM"),  # closes, but none in the run
        fill(10, +1, 1, 50.0, instrument="B.SIM"),
    ]

    result = build_equity_curve(fills, closes, 1000.0)

    # cash 1000 - 120; only B is marked: 880 + 50, then 880 + 52.
    assert result.equity.tolist() == [930.0, 932.0]
    assert result.in_market.tolist() == [True, True]


def test_an_instrument_with_a_single_bar_is_marked_at_it() -> None:
    closes = {"A.SIM": bars([10, 20, 30], [1.0, 1.0, 1.0]), "B.SIM": bars([20], [50.0])}
    fills = [fill(10, +1, 2, 40.0, instrument="B.SIM")]

    result = build_equity_curve(fills, closes, 1000.0)

    # Bought at 10 before B's only bar (0 mark), then marked at 50 from 20 on.
    assert result.equity.tolist() == [920.0, 1020.0, 1020.0]


def test_a_position_exactly_at_the_flat_tolerance_is_flat() -> None:
    closes = {"A.SIM": bars([10, 20, 30], [1.0, 1.0, 1.0])}
    # The largest fill is 2, so the tolerance is 2e-9 (exact: a power-of-two scale).
    fills = [fill(10, +1, 2.0, 1.0), fill(20, -1, 2.0, 1.0), fill(30, +1, 2e-9, 1.0)]
    assert 1e-9 * 2.0 == 2e-9

    result = build_equity_curve(fills, closes, 100.0)

    assert result.in_market.tolist() == [True, False, False]
    # Just past it, the position is real.
    past = [*fills[:2], fill(30, +1, 2.5e-9, 1.0)]
    assert build_equity_curve(past, closes, 100.0).in_market.tolist() == [True, False, True]


def test_no_closes_give_an_empty_integer_timeline() -> None:
    empty = build_equity_curve([], {}, 1000.0)

    assert len(empty) == 0 and empty.ts_ns.dtype == np.int64


def test_the_empty_curve_error_says_why() -> None:
    empty = build_equity_curve([], {}, 1000.0)

    with pytest.raises(ValueError) as error:
        drawdown(empty)
    assert str(error.value) == "the equity curve is empty: the run has no bars to mark positions at"


def test_an_account_ending_at_exactly_zero_has_no_cagr() -> None:
    m = compute_metrics(curve([0, DAY], [500.0, 0.0]), [], [], 1000.0)

    assert m.cagr is None
    assert m.total_return == -1.0


def test_turnover_over_a_mean_equity_of_zero_is_infinite_and_of_one_is_the_notional() -> None:
    fills = [fill(0, +1, 2, 1.0)]  # notional 2

    zero = compute_metrics(curve([0, DAY], [1.0, -1.0]), [], fills, 1.0)
    one = compute_metrics(curve([0, DAY], [1.0, 1.0]), [], fills, 1.0)

    assert zero.turnover == math.inf
    assert one.turnover == 2.0


def test_drawdown_counts_from_a_peak_set_before_the_curve() -> None:
    equity = np.array([90.0, 100.0, 130.0, 117.0])

    assert drawdown_of(equity, peak=120.0).tolist() == pytest.approx(
        [90 / 120 - 1, 100 / 120 - 1, 0.0, 117 / 130 - 1], rel=1e-12
    )
    # The high-water mark rises with the curve: 130 becomes the peak, not 120.
    assert drawdown_of(equity).tolist() == pytest.approx([0.0, 0.0, 0.0, 117 / 130 - 1], rel=1e-12)
