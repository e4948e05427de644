"""The mean-reversion and volatility-breakout families on the real engine (Property 11: their
orders are those an independent pandas computation of the same rule gives, per instrument;
risk limits hold; a golden master per family pins its orders)."""

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
from support.golden import orders_hash
from support.strategy_runs import family_spec, run_specs

ONE = ["SYN01.SIM"]
TWO = ["SYN01.SIM", "SYN02.SIM"]
MARKET = SyntheticMarketConfig(instruments=2, days=3, seed=11)
CLASSES = {"mean_reversion": "MeanReversion", "volatility_breakout": "VolatilityBreakout"}
NAMES = {**CLASSES, "trend_following": "TrendFollowing"}


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("reversion") / "home"
    bootstrap(home=home).synthetic.synthesize(MARKET)
    return home


@pytest.fixture
def desk(market: Path) -> Platform:
    return bootstrap(home=market)


def run(
    desk: Platform,
    family: str,
    instruments: list[str],
    risk: dict[str, Any] | None = None,
    **params: Any,
) -> list[FillRecord]:
    config = {
        "trade_size": "100",
        **params,
        "instrument_ids": instruments,
        "bar_spec": "1-MINUTE-LAST",
        "order_id_tag": "F",
    }
    result: BacktestResult = run_specs(
        desk, [family_spec(family, NAMES[family], config)], instruments=instruments, risk=risk
    )
    return list(desk.backtests.artifacts(result.run_id).fills)


def bars_of(instrument: str) -> pd.DataFrame:
    series = next(s for s in generate_market(MARKET) if s.instrument.instrument_id == instrument)
    b = series.bars
    return pd.DataFrame({"high": b.high, "low": b.low, "close": b.close}, index=np.asarray(b.ts_ns))


def orders_of(fills: Iterable[FillRecord], instrument: str) -> list[tuple[int, int]]:
    seen: dict[str, tuple[int, int]] = {}
    for fill in fills:
        if fill.instrument_id == instrument:
            seen.setdefault(fill.order_id, (fill.ts_ns, fill.side))
    return list(seen.values())


def no_tie(values: np.ndarray, *levels: float) -> None:
    """A value on a threshold is decided by float rounding: the data must have none."""
    for level in levels:
        assert not (np.abs(values[~np.isnan(values)] - level) < 1e-9).any(), level


def reversion_orders(
    bars: pd.DataFrame, n: int, entry: float, exit_: float, stop: float | None
) -> list[tuple[int, int]]:
    closes = bars.close
    z = ((closes - closes.rolling(n).mean()) / closes.rolling(n).std(ddof=0)).to_numpy()
    no_tie(z, entry, -entry, exit_, -exit_, *(() if stop is None else (stop, -stop)))
    ts, out, pos, out_until_calm = bars.index.to_numpy(), [], 0, False
    for t in range(n - 1, len(z)):
        if np.isnan(z[t]):
            continue
        if out_until_calm:
            if abs(z[t]) >= entry:
                continue
            out_until_calm = False
        if pos != 0:
            adverse = -z[t] * pos  # how far against the position
            if stop is not None and adverse >= stop:
                out.append((ts[t], -pos))
                pos, out_until_calm = 0, True
                continue
            if adverse > exit_:
                continue
            out.append((ts[t], -pos))
            pos = 0
        if stop is not None and abs(z[t]) >= stop:
            continue
        if z[t] >= entry:
            out.append((ts[t], -1))
            pos = -1
        elif z[t] <= -entry:
            out.append((ts[t], 1))
            pos = 1
    return out


def atr_of(bars: pd.DataFrame, period: int) -> np.ndarray:
    high, low, close = (bars[c].to_numpy() for c in ("high", "low", "close"))
    previous = np.concatenate([[close[0]], close[:-1]])
    tr = np.maximum(high, previous) - np.minimum(low, previous)
    tr[0] = high[0] - low[0]
    return pd.Series(tr).rolling(period).mean().to_numpy()


def breakout_orders(
    bars: pd.DataFrame, channel: int, atr_period: int, m: float, k: float
) -> list[tuple[int, int]]:
    upper = bars.high.rolling(channel).max().shift(1).to_numpy()  # previous bars only
    lower = bars.low.rolling(channel).min().shift(1).to_numpy()
    atr = atr_of(bars, atr_period)
    c, ts = bars.close.to_numpy(), bars.index.to_numpy()
    if m > 0:  # with m = 0 both sides compare the same floats exactly
        no_tie(c - upper - m * atr, 0.0)
        no_tie(c - lower + m * atr, 0.0)
    out, pos, stop = [], 0, 0.0
    for t in range(max(channel, atr_period - 1), len(c)):
        up, down = c[t] > upper[t] + m * atr[t], c[t] < lower[t] - m * atr[t]
        d = k * atr[t]
        if pos > 0:
            if c[t] <= stop:
                out.append((ts[t], -1))
                pos = 0
            elif down:
                out += [(ts[t], -1), (ts[t], -1)]
                pos, stop = -1, c[t] + d
            else:
                stop = max(stop, c[t] - d)
        elif pos < 0:
            if c[t] >= stop:
                out.append((ts[t], 1))
                pos = 0
            elif up:
                out += [(ts[t], 1), (ts[t], 1)]
                pos, stop = 1, c[t] - d
            else:
                stop = min(stop, c[t] + d)
        elif up:
            out.append((ts[t], 1))
            pos, stop = 1, c[t] - d
        elif down:
            out.append((ts[t], -1))
            pos, stop = -1, c[t] + d
    return out


@pytest.mark.parametrize(
    ("lookback", "entry", "exit_", "stop"), [(20, 1.93, 0.47, None), (30, 1.61, 0.23, 2.57)]
)
def test_reversion_orders_match_an_independent_computation(
    desk: Platform, lookback: int, entry: float, exit_: float, stop: float | None
) -> None:
    params = {"lookback": lookback, "entry_zscore": entry, "exit_zscore": exit_}
    fills = run(desk, "mean_reversion", TWO, stop_zscore=stop, **params)
    for instrument in TWO:
        expected = reversion_orders(bars_of(instrument), lookback, entry, exit_, stop)
        assert len(expected) > 10
        assert orders_of(fills, instrument) == expected


@pytest.mark.parametrize(
    ("channel", "atr_period", "m", "k"), [(20, 14, 0.37, 2.1), (10, 5, 0.0, 1.3)]
)
def test_breakout_orders_match_an_independent_computation(
    desk: Platform, channel: int, atr_period: int, m: float, k: float
) -> None:
    params = {
        "channel_period": channel,
        "atr_period": atr_period,
        "breakout_atr_multiple": m,
        "stop_atr_multiple": k,
    }
    fills = run(desk, "volatility_breakout", TWO, **params)
    for instrument in TWO:
        expected = breakout_orders(bars_of(instrument), channel, atr_period, m, k)
        assert len(expected) > 10
        assert orders_of(fills, instrument) == expected


@pytest.mark.parametrize("family", sorted(CLASSES))
def test_max_position_is_never_exceeded(desk: Platform, family: str) -> None:
    risk = {"constraints": {f"{CLASSES[family]}-F": {"max_position": "70"}}}
    fills = run(desk, family, ONE, risk=risk)
    net = np.cumsum([f.side * f.quantity for f in fills])
    assert len(fills) > 0 and np.abs(net).max() <= 70


@pytest.mark.parametrize("family", sorted(CLASSES))
def test_golden_master(desk: Platform, family: str) -> None:
    """Deliberate constants: a change in a family's orders fails here until updated."""
    assert orders_hash(run(desk, family, TWO)) == GOLDEN[family]


GOLDEN = {
    "mean_reversion": "03464bc9a4962965c13f7dfdd87fed87441b2d2ddc34cb41d8d3a1d9b8f0f39e",
    "volatility_breakout": "9170b940a5e1875f65f1880e9451d7d6c2373b4ee4c2b638758b4f8958e47bec",
}


@pytest.mark.parametrize("family", ["mean_reversion", "trend_following", "volatility_breakout"])
def test_no_orders_from_trade_until_and_flat_at_stop(desk: Platform, family: str) -> None:
    """The run options every family honours: nothing new at/after ``trade_until_ns``; with
    ``flat_at_stop`` the only later fills close what is open, at the end, to flat."""
    until = int(bars_of(ONE[0]).index[2000])
    fills = run(desk, family, ONE, trade_until_ns=until, flat_at_stop=True)
    before = [f for f in fills if f.ts_ns < until]
    after = [f for f in fills if f.ts_ns >= until]
    assert len(before) > 10
    assert len({f.ts_ns for f in after}) <= 1
    assert sum(f.side * f.quantity for f in fills) == 0
