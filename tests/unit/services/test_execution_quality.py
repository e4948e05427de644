"""Execution quality by hand on a few bars: references, signs, shares, participation."""

import numpy as np
import pytest

from quantdesk.domain.backtest import StrategySpec
from quantdesk.domain.backtest_records import FillRecord
from quantdesk.domain.errors import NotFoundError
from quantdesk.domain.execution_quality import cost_bps
from quantdesk.services.columns import BarColumns
from quantdesk.services.execution_quality import (
    EXECUTION_FAMILY_PATH,
    measure_execution,
    run_execution_quality,
)

MINUTE = 60_000_000_000


def bars(closes: list[float], volumes: list[float]) -> BarColumns:
    c = np.array(closes)
    return BarColumns(
        ts_ns=MINUTE * np.arange(1, len(c) + 1, dtype=np.int64),
        open=c,
        high=c,
        low=c,
        close=c,
        volume=np.array(volumes, dtype=np.float64),
    )


def fill(ts: int, side: int, qty: float, price: float, order: str = "O-1") -> FillRecord:
    return FillRecord(
        ts, "exec@1-x", "SYN01.SIM", order, f"T-{ts}-{qty}", "P-1", side, qty, price, 0.0, "USD"
    )


def test_a_buy_above_its_references_is_a_positive_cost() -> None:
    market = bars([100.0, 102.0, 101.0, 200.0], [10.0, 30.0, 60.0, 1000.0])
    fills = [
        fill(MINUTE, 1, 4.0, 100.0, "O-1"),
        fill(2 * MINUTE, 1, 6.0, 102.0, "O-2"),
        fill(3 * MINUTE, -1, 10.0, 101.0, "O-3"),  # getting flat at the stop: not execution
    ]
    quality = measure_execution(
        fills,
        market,
        strategy_id="exec@1-x",
        instrument_id="SYN01.SIM",
        algorithm="twap",
        side="buy",
        total_quantity=20.0,
        horizon_minutes=2,
    )
    average = (4 * 100 + 6 * 102) / 10  # 101.2
    vwap = (100 * 10 + 102 * 30 + 101 * 60) / 100  # window: minutes 1..3 (t0 + 2 included)
    assert quality.average_price == pytest.approx(average)
    assert quality.arrival_price == 100.0
    assert quality.interval_vwap == pytest.approx(vwap)
    assert quality.vs_arrival_bps == pytest.approx((average - 100) / 100 * 1e4)  # 120 bps
    assert quality.vs_vwap_bps == pytest.approx((average - vwap) / vwap * 1e4)
    assert quality.filled_quantity == 10.0 and quality.filled_share == 0.5
    assert quality.market_volume == 100.0 and quality.participation == pytest.approx(0.1)
    assert (quality.fills, quality.orders) == (2, 2)
    assert (quality.start_ns, quality.end_ns) == (MINUTE, 3 * MINUTE)


def test_a_sell_below_its_reference_costs_and_above_it_earns() -> None:
    assert cost_bps(99.0, 100.0, "sell") == pytest.approx(100.0)
    assert cost_bps(101.0, 100.0, "sell") == pytest.approx(-100.0)
    assert cost_bps(101.0, 100.0, "buy") == pytest.approx(100.0)


def test_nothing_filled_and_no_volume_are_none_not_zero() -> None:
    quality = measure_execution(
        [],
        bars([50.0, 51.0], [0.0, 0.0]),
        strategy_id="exec@1-x",
        instrument_id="SYN01.SIM",
        algorithm="pov",
        side="sell",
        total_quantity=5.0,
        horizon_minutes=60,
    )
    assert quality.average_price is None and quality.vs_arrival_bps is None
    assert quality.interval_vwap is None and quality.participation is None
    assert quality.filled_share == 0.0


def test_no_bars_is_named() -> None:
    with pytest.raises(NotFoundError, match=r"no bars of SYN01\.SIM"):
        measure_execution(
            [],
            bars([], []),
            strategy_id="s",
            instrument_id="SYN01.SIM",
            algorithm="twap",
            side="buy",
            total_quantity=1.0,
            horizon_minutes=1,
        )


def test_a_run_measures_each_execution_parent_and_skips_other_families() -> None:
    market = bars([100.0, 101.0], [10.0, 10.0])
    execution = StrategySpec(
        strategy_path=EXECUTION_FAMILY_PATH,
        config_path="quantdesk.strategies.execution:ExecutionConfig",
        config={
            "instrument_ids": ["SYN01.SIM"],
            "algorithm": "twap",
            "side": "buy",
            "total_quantity": "8",
            "horizon_minutes": 5,
        },
    )
    other = StrategySpec(
        strategy_path="quantdesk.strategies.trend_following:TrendFollowing",
        config_path="quantdesk.strategies.trend_following:TrendFollowingConfig",
        config={"instrument_ids": ["SYN01.SIM"]},
    )
    asked: list[tuple[str, str, str]] = []

    def read(instrument_id: str, bar_spec: str, market_data: str) -> BarColumns:
        asked.append((instrument_id, bar_spec, market_data))
        return market

    qualities = run_execution_quality(
        [("trend@1-a", other), ("exec@1-x", execution)], [fill(MINUTE, 1, 4.0, 100.0)], read
    )
    assert [(q.strategy_id, q.filled_share) for q in qualities] == [("exec@1-x", 0.5)]
    assert asked == [("SYN01.SIM", "1-MINUTE-LAST", "bars")]
