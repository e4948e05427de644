"""The trend-following family on the real engine (Property 11: its orders are the ones an
independent pandas computation of the same rule says, for every moving-average type, with
and without the ATR trailing stop, per instrument; its risk limits hold; a golden master
pins its orders). With EMA, no stop and one instrument it trades as the old EMA cross."""

import importlib.util
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from quantdesk.bootstrap import bootstrap
from quantdesk.domain.backtest import BacktestResult
from quantdesk.domain.backtest_records import FillRecord
from quantdesk.services.platform import Platform
from quantdesk.services.synthetic import SyntheticMarketConfig, generate_market
from quantdesk.strategies.trend_following import ATR_PERIOD
from support.golden import orders_hash
from support.strategy_runs import ema_specs, family_spec, raw_plan, run_specs

ONE = ["SYN01.SIM"]
TWO = ["SYN01.SIM", "SYN02.SIM"]
MARKET = SyntheticMarketConfig(instruments=2, days=3, seed=4)


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("trend") / "home"
    bootstrap(home=home).synthetic.synthesize(MARKET)
    return home


@pytest.fixture
def desk(market: Path) -> Platform:
    return bootstrap(home=market)


def trend(
    desk: Platform, instruments: list[str], risk: dict[str, Any] | None = None, **params: Any
) -> BacktestResult:
    config = {
        "fast_period": 10,
        "slow_period": 50,
        "trade_size": "100",
        **params,
        "instrument_ids": instruments,
        "bar_spec": "1-MINUTE-LAST",
        "order_id_tag": "TF",
    }
    spec = family_spec("trend_following", "TrendFollowing", config)
    return run_specs(desk, [spec], instruments=instruments, risk=risk)


def wma(values: pd.Series, period: int) -> pd.Series:
    weights = np.arange(1, period + 1, dtype=float)
    return values.rolling(period).apply(
        lambda x: float(np.dot(x, weights) / weights.sum()), raw=True
    )


def exact_average(closes: pd.Series, weights: np.ndarray) -> np.ndarray:
    """A weighted rolling mean from integer cents: exact sums, so a tie of the fast and
    slow averages is a tie here too (a float rolling sum drifts by 1e-14)."""
    cents = np.rint(closes.to_numpy() * 100).astype(np.int64)
    sums = np.convolve(cents, weights[::-1], mode="full")[: len(cents)].astype(float)
    out = sums / float(weights.sum()) / 100
    out[: len(weights) - 1] = np.nan
    return out


def moving_average(closes: pd.Series, kind: str, period: int) -> np.ndarray:
    if kind == "ema":
        return closes.ewm(span=period, adjust=False).mean().to_numpy()
    if kind == "sma":
        return exact_average(closes, np.ones(period, dtype=np.int64))
    if kind == "wma":
        return exact_average(closes, np.arange(1, period + 1, dtype=np.int64))
    half, root = wma(closes, period // 2), int(np.sqrt(period))
    return wma(2 * half - wma(closes, period), root).to_numpy()


def true_range_atr(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    previous = np.concatenate([[close[0]], close[:-1]])
    tr = np.maximum(high, previous) - np.minimum(low, previous)
    tr[0] = high[0] - low[0]
    return pd.Series(tr).rolling(ATR_PERIOD).mean().to_numpy()


def expected_orders(
    bars: pd.DataFrame,
    kind: str,
    fast: int,
    slow: int,
    long_only: bool,
    multiple: float | None = None,
) -> list[tuple[int, int]]:
    """(bar ts, side) of every order the rule sends, computed here with pandas/numpy."""
    closes = bars.close
    f, s = moving_average(closes, kind, fast), moving_average(closes, kind, slow)
    atr = true_range_atr(bars.high.to_numpy(), bars.low.to_numpy(), closes.to_numpy())
    start = max(slow, ATR_PERIOD if multiple is not None else 0) - 1
    # an exact tie of the averages is decided by the engine's float rounding: none allowed
    assert not (np.abs(f - s)[start:] < 1e-9).any(), "a tie of the averages: other parameters"
    pos, blocked, stop, out = 0, 0, 0.0, []
    ts, c = bars.index.to_numpy(), closes.to_numpy()
    for t in range(start, len(c)):
        send = out.append
        if multiple is not None:
            d = multiple * atr[t]
            if pos != 0 and (c[t] <= stop if pos > 0 else c[t] >= stop):
                send((ts[t], -pos))
                blocked, pos = pos, 0
                continue
            stop = max(stop, c[t] - d) if pos > 0 else min(stop, c[t] + d) if pos < 0 else stop
            distance = d
        else:
            distance = 0.0
        if f[t] > s[t]:
            if blocked == 1:
                continue
            blocked = 0
            if not long_only and pos < 0:
                send((ts[t], 1))
                pos = 0
            if pos == 0:
                send((ts[t], 1))
                pos, stop = 1, c[t] - distance
        else:
            if blocked == -1:
                continue
            blocked = 0
            if pos > 0:
                send((ts[t], -1))
                pos = 0
                if not long_only:
                    send((ts[t], -1))
                    pos, stop = -1, c[t] + distance
            elif not long_only and pos == 0:
                send((ts[t], -1))
                pos, stop = -1, c[t] + distance
    return out


def orders_of(fills: Iterable[FillRecord], instrument: str) -> list[tuple[int, int]]:
    seen: dict[str, tuple[int, int]] = {}
    for fill in fills:
        if fill.instrument_id == instrument:
            seen.setdefault(fill.order_id, (fill.ts_ns, fill.side))
    return list(seen.values())


def bars_of(desk: Platform, instrument: str) -> pd.DataFrame:
    """The instrument's bars as synthesised (the run's closes must be these)."""
    series = next(s for s in generate_market(MARKET) if s.instrument.instrument_id == instrument)
    bars = series.bars
    frame = pd.DataFrame(
        {"high": bars.high, "low": bars.low, "close": bars.close}, index=np.asarray(bars.ts_ns)
    )
    return frame


@pytest.mark.parametrize(
    ("kind", "long_only", "multiple"),
    [
        ("ema", True, None),
        ("ema", False, None),
        ("sma", False, None),
        ("wma", True, None),
        ("hull", False, None),
        ("ema", False, 2.0),
        ("sma", True, 1.0),
    ],
)
def test_orders_match_an_independent_computation(
    desk: Platform, kind: str, long_only: bool, multiple: float | None
) -> None:
    result = trend(
        desk,
        ONE,
        ma_type=kind,
        long_only=long_only,
        atr_stop_multiple=multiple,
        fast_period=8,
        slow_period=30,
    )
    fills = desk.backtests.artifacts(result.run_id).fills
    expected = expected_orders(bars_of(desk, ONE[0]), kind, 8, 30, long_only, multiple)
    assert len(expected) > 10
    assert orders_of(fills, ONE[0]) == expected


def test_each_instrument_is_traded_on_its_own(desk: Platform) -> None:
    result = trend(desk, TWO, ma_type="wma", atr_stop_multiple=1.5)
    fills = desk.backtests.artifacts(result.run_id).fills
    for instrument in TWO:
        expected = expected_orders(bars_of(desk, instrument), "wma", 10, 50, False, 1.5)
        assert orders_of(fills, instrument) == expected


@pytest.mark.skipif(
    importlib.util.find_spec("quantdesk.strategies.ema_cross") is None, reason="ema_cross gone"
)
@pytest.mark.parametrize("long_only", [True, False])
def test_trades_as_the_old_ema_cross(desk: Platform, long_only: bool) -> None:
    family = trend(desk, ONE, long_only=long_only)
    plan = raw_plan(
        ema_specs(ONE, "1-MINUTE-LAST", {"long_only": long_only}),
        instruments=ONE,
        engine={"log_level": "OFF"},
    )
    old = desk.backtests.run_plan(plan)
    mine, theirs = (desk.backtests.artifacts(r.run_id).fills for r in (family, old))
    assert [(f.ts_ns, f.side, f.quantity, f.price) for f in mine] == [
        (f.ts_ns, f.side, f.quantity, f.price) for f in theirs
    ]


def test_max_position_is_never_exceeded(desk: Platform) -> None:
    risk = {"constraints": {"TrendFollowing-TF": {"max_position": "60"}}}
    result = trend(desk, ONE, risk=risk)
    fills = desk.backtests.artifacts(result.run_id).fills
    net = np.cumsum([f.side * f.quantity for f in fills])
    assert len(fills) > 0 and np.abs(net).max() <= 60


def test_golden_master(desk: Platform) -> None:
    """A deliberate constant: a change in the family's orders fails here until updated."""
    result = trend(desk, TWO, ma_type="hull", atr_stop_multiple=2.0, fast_period=12)
    assert orders_hash(desk.backtests.artifacts(result.run_id).fills) == GOLDEN


GOLDEN = "825fe76bce4d103f1a89898183df87fb8cba5f32355120c348beb20b7e8b24a3"
