"""Volatility breakout sized by VOLATILITY_FORECAST signals on the real engine (Property 11:
each entry's quantity is the rule's, computed here with numpy from the bars and the
signals: trade_size * min(1, realised / forecast) rounded down; full size without a
forecast in force; the decisions themselves unchanged by the sizing)."""

import json
import math
from collections.abc import Iterable

import numpy as np
import pytest

from quantdesk.bootstrap import bootstrap
from quantdesk.domain.backtest_records import FillRecord
from quantdesk.services.platform import Platform
from quantdesk.services.synthetic import (
    DEFAULT_START_NS,
    SyntheticMarketConfig,
    generate_market,
)
from support.signals import raw_signal
from support.strategy_runs import family_spec, run_specs

IID = "SYN01.SIM"
MARKET = SyntheticMarketConfig(instruments=1, days=3, seed=21)
MINUTE = 60_000_000_000
CHANNEL = 20
# (minute, annualised forecast, horizon minutes): a high forecast scales entries down from
# minute 5 to 1505, none is in force until 2000, then a low one (below realised: full size)
FORECASTS = [(5, 5.0, 1500), (2000, 0.01, 3000)]
LAG = 30_000_000_000  # known half a minute after ts_event: never on a bar's timestamp


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Platform:
    home = tmp_path_factory.mktemp("sizing") / "home"
    desk = bootstrap(home=home)
    desk.synthetic.synthesize(MARKET)
    records = [
        raw_signal(
            signal_type="VOLATILITY_FORECAST",
            instrument_id=IID,
            ts_event=DEFAULT_START_NS + minute * MINUTE,
            lag_ns=LAG,
            value={"annualized_volatility": vol, "horizon_ns": horizon * MINUTE},
        )
        for minute, vol, horizon in FORECASTS
    ]
    path = home.parent / "forecasts.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    desk.signals.ingest_file(path)
    return desk


def run(desk: Platform, sized: bool) -> list[FillRecord]:
    config = {
        "channel_period": CHANNEL,
        "trade_size": "100",
        "instrument_ids": [IID],
        "order_id_tag": "VB",
        "signal_types": ["VOLATILITY_FORECAST"] if sized else [],
    }
    result = run_specs(
        desk,
        [family_spec("volatility_breakout", "VolatilityBreakout", config)],
        instruments=[IID],
        signals=["VOLATILITY_FORECAST"] if sized else "none",
    )
    return list(desk.backtests.artifacts(result.run_id).fills)


def entries(fills: Iterable[FillRecord]) -> list[tuple[int, int, float]]:
    """(ts, side, quantity) of each order that opens a position (from flat)."""
    orders: dict[str, list[float]] = {}
    first: dict[str, tuple[int, int]] = {}
    for f in fills:
        orders.setdefault(f.order_id, []).append(f.quantity)
        first.setdefault(f.order_id, (f.ts_ns, f.side))
    position, out = 0.0, []
    for order, quantities in orders.items():
        ts, side = first[order]
        if position == 0:
            out.append((ts, side, sum(quantities)))
        position += side * sum(quantities)
    return out


def expected_size(ts: int, closes: np.ndarray, stamps: np.ndarray) -> float:
    index = int(np.searchsorted(stamps, ts))
    returns = np.diff(np.log(closes[index - CHANNEL : index + 1]))
    realised = math.sqrt(float(np.mean(returns**2)) * 365 * 1440)
    for minute, vol, horizon in reversed(FORECASTS):
        start = DEFAULT_START_NS + minute * MINUTE
        if start + LAG <= ts < start + horizon * MINUTE:
            return float(math.floor(100 * min(1.0, realised / vol)))
    return 100.0


def test_entries_are_scaled_by_the_forecast_in_force(desk: Platform) -> None:
    series = generate_market(MARKET)[0].bars
    closes, stamps = np.asarray(series.close), np.asarray(series.ts_ns)
    sized, plain = entries(run(desk, sized=True)), entries(run(desk, sized=False))
    assert [(ts, side) for ts, side, _ in sized] == [(ts, side) for ts, side, _ in plain]
    assert {q for _, _, q in plain} == {100.0}
    got = [q for _, _, q in sized]
    want = [expected_size(ts, closes, stamps) for ts, _, _ in sized]
    assert got == want
    assert min(got) < 50 and max(got) == 100  # both regimes met
