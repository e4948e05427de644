"""The execution family on a real engine: a parent order sliced over a synthetic day.

Slice quantities are recomputed here from the bars (pandas, independently of the strategy):
TWAP even, VWAP by the volume seen, POV capped by the last bar's volume; limit slices never
fill worse than their limit; the quality numbers are recomputed from the fills and bars.
"""

from collections.abc import Iterable
from decimal import ROUND_FLOOR, Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest

from quantdesk.bootstrap import bootstrap
from quantdesk.domain.backtest_records import FillRecord
from quantdesk.services.columns import BarColumns
from quantdesk.services.execution_quality import measure_execution
from quantdesk.services.platform import Platform
from quantdesk.services.synthetic import SyntheticMarketConfig, generate_market
from support.golden import orders_hash
from support.strategy_runs import family_spec, run_specs

MARKET = SyntheticMarketConfig(instruments=1, days=1, seed=4)
IID = "SYN01.SIM"
MINUTE = 60_000_000_000
STRATEGY = "Execution-f3test"


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Platform:
    made = bootstrap(home=tmp_path_factory.mktemp("execution") / "home")
    made.synthetic.synthesize(MARKET)
    return made


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    series = generate_market(MARKET)[0].bars
    return pd.DataFrame(
        {"close": series.close, "volume": series.volume}, index=pd.Index(series.ts_ns, name="ts")
    )


def run(desk: Platform, risk: dict[str, Any] | None = None, **parameters: Any) -> list[FillRecord]:
    config = {
        "instrument_ids": [IID],
        "order_id_tag": "f3test",
        "horizon_minutes": 30,
        "slice_interval_seconds": 300,
        **parameters,
    }
    result = run_specs(
        desk, [family_spec("execution", "Execution", config)], instruments=[IID], risk=risk
    )
    return list(desk.backtests.artifacts(result.run_id).fills)


def per_order(fills: Iterable[FillRecord]) -> pd.DataFrame:
    frame = pd.DataFrame(
        [(f.order_id, f.ts_ns, f.quantity, f.price, f.side) for f in fills],
        columns=["order", "ts", "qty", "price", "side"],
    )
    return frame.groupby("order", sort=False).agg(
        first_ts=("ts", "min"), qty=("qty", "sum"), worst=("price", "max"), side=("side", "first")
    )


def test_twap_market_slices_are_even_and_sum_to_the_total(
    desk: Platform, bars: pd.DataFrame
) -> None:
    fills = run(desk, algorithm="twap", side="buy", total_quantity="1000")
    orders = per_order(fills)
    t0 = int(bars.index[0])
    assert list(orders.first_ts) == [t0 + k * 5 * MINUTE for k in range(6)]  # first bar on
    cumulative = [1000 * (k + 1) // 6 for k in range(6)]
    assert list(orders.qty) == list(np.diff([0, *cumulative]))  # 166, 167, 167, 166, ...
    assert orders.qty.sum() == 1000
    assert set(orders.side) == {1}


def test_vwap_slices_follow_the_volume_already_traded(desk: Platform, bars: pd.DataFrame) -> None:
    fills = run(desk, algorithm="vwap", side="buy", total_quantity="1000")
    orders = per_order(fills)
    t0 = int(bars.index[0])
    # the market volume since the previous slice, per slice (the first: the first bar's)
    ts = bars.index
    u = [bars.volume.iloc[0]] + [
        bars.volume[(ts > t0 + (k - 1) * 5 * MINUTE) & (ts <= t0 + k * 5 * MINUTE)].sum()
        for k in range(1, 6)
    ]
    planned, expected = 0, []
    for k in range(6):
        mean = sum(u[: k + 1]) / (k + 1)
        share = u[k] / (u[k] + (5 - k) * mean)
        step = 1000 - planned if k == 5 else int((1000 - planned) * share)
        expected.append(step)
        planned += step
    assert list(orders.qty) == expected
    assert orders.qty.sum() == 1000
    assert len(set(expected)) > 1  # not TWAP in disguise


def test_pov_caps_every_slice_at_its_share_of_the_last_bar(
    desk: Platform, bars: pd.DataFrame
) -> None:
    fills = run(desk, algorithm="pov", side="sell", total_quantity="5000", participation_rate=0.1)
    orders = per_order(fills)
    assert set(orders.side) == {-1}
    last_bar_volume = bars.volume.reindex(orders.first_ts).to_numpy()
    assert (orders.qty.to_numpy() <= 0.1 * last_bar_volume).all()
    assert list(orders.qty) == [int(v * 0.1) for v in last_bar_volume]  # the cap binds
    quality = measure_execution(
        fills,
        _columns(bars),
        strategy_id=STRATEGY,
        instrument_id=IID,
        algorithm="pov",
        side="sell",
        total_quantity=5000.0,
        horizon_minutes=30,
    )
    assert (
        quality.filled_share == pytest.approx(orders.qty.sum() / 5000) and quality.filled_share < 1
    )


def test_limit_slices_never_fill_through_their_limit_and_carry_what_is_left(
    desk: Platform, bars: pd.DataFrame
) -> None:
    fills = run(desk, algorithm="twap", side="buy", total_quantity="1000", limit_offset_bps=5.0)
    orders = per_order(fills)
    t0 = int(bars.index[0])
    slice_times = [t0 + k * 5 * MINUTE for k in range(6)]
    for _, order in orders.iterrows():
        placed = max(t for t in slice_times if t < order.first_ts)  # passive: fills later
        close = Decimal(repr(float(bars.close[placed])))
        limit = (close * Decimal("0.9995") / Decimal("0.01")).to_integral_value(ROUND_FLOOR)
        assert order.worst <= float(limit) / 100 + 1e-9
    assert orders.qty.sum() <= 1000
    assert orders.qty.max() > 167  # a slice that did not fill was carried into the next
    assert orders_hash(fills) == GOLDEN_TWAP_LIMIT


def test_quality_matches_an_independent_computation(desk: Platform, bars: pd.DataFrame) -> None:
    fills = run(desk, algorithm="twap", side="buy", total_quantity="1000", limit_offset_bps=5.0)
    quality = measure_execution(
        fills,
        _columns(bars),
        strategy_id=STRATEGY,
        instrument_id=IID,
        algorithm="twap",
        side="buy",
        total_quantity=1000.0,
        horizon_minutes=30,
    )
    frame = pd.DataFrame([(f.quantity, f.price) for f in fills], columns=["qty", "price"])
    average = (frame.qty * frame.price).sum() / frame.qty.sum()
    window = bars[bars.index <= bars.index[0] + 30 * MINUTE]
    vwap = (window.close * window.volume).sum() / window.volume.sum()
    arrival = bars.close.iloc[0]
    assert quality.average_price == pytest.approx(average, rel=1e-12)
    assert quality.arrival_price == arrival
    assert quality.interval_vwap == pytest.approx(vwap, rel=1e-12)
    assert quality.vs_arrival_bps == pytest.approx((average / arrival - 1) * 1e4, rel=1e-9)
    assert quality.vs_vwap_bps == pytest.approx((average / vwap - 1) * 1e4, rel=1e-9)
    assert quality.filled_share == pytest.approx(frame.qty.sum() / 1000)
    assert quality.participation == pytest.approx(frame.qty.sum() / window.volume.sum())
    assert quality.vs_arrival_bps < 0  # passive buys below the market: a saving


def test_the_risk_gate_holds_the_parent_to_the_strategys_max_position(desk: Platform) -> None:
    risk = {"constraints": {STRATEGY: {"max_position": "600"}}}
    fills = run(desk, risk=risk, algorithm="twap", side="buy", total_quantity="1000")
    held = np.cumsum([f.side * f.quantity for f in fills])
    assert held.max() <= 600
    assert held[-1] < 1000  # the filled share says why the parent is short


def _columns(bars: pd.DataFrame) -> BarColumns:
    """The run's bars as the service reads them (the synthetic market, as ingested)."""
    series = generate_market(MARKET)[0].bars
    assert (series.ts_ns == bars.index.to_numpy()).all()
    return series


GOLDEN_TWAP_LIMIT = "ada627b39c8c2ab7f6536bdce091be13860017d6b39f0434c473e3e2cf85701b"
