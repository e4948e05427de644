"""Fill conventions and costs against backtesting.py itself, on its bundled GOOG daily bars.

``fill_at="next_open"``: a market order decided on bar t fills at bar t+1's open, as
backtesting.py does by default; ``"close"`` (quantdesk's default) fills at bar t's close, as
backtesting.py with ``trade_on_close=True``. The trend_following family with SMA 10/20 (long
while fast > slow, else short or flat; a flip closes, then opens; 100 shares; 0.2 % of
notional per fill) and the same rule written for backtesting.py must give the same trades,
bar for bar and price for price, and the same final equity (within 1e-6: the engine holds
each commission in cents). backtesting.py's own SmaCross example (on crosses) is checked too,
against a probe strategy written like it.
"""

import warnings
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest
from backtesting import Backtest, Strategy
from backtesting.lib import crossover
from backtesting.test import GOOG, SMA

from quantdesk.bootstrap import bootstrap
from quantdesk.domain.backtest import BacktestResult, StrategySpec
from quantdesk.domain.instruments import AssetClass, InstrumentSpec
from quantdesk.domain.market_data import BarIngestOptions, TimestampAt
from quantdesk.services.platform import Platform
from support.plugin_desk import plugin_settings
from support.strategy_runs import raw_plan, run_specs

IID = "GOOG.SIM"
BAR_SPEC = "1-DAY-LAST"
DAY_NS = 86_400_000_000_000
CASH = 1_000_000
RATE = 0.002
STRATEGY = "family"  # the trend_following family with SMAs; "probe": support.sma_cross_probe


def _closes_ns(index: pd.DatetimeIndex) -> list[int]:
    """backtesting.py labels a daily bar by its day; quantdesk stamps it at its close."""
    return [int(ts.value) + DAY_NS for ts in index.tz_localize("UTC")]


@pytest.fixture(scope="module")
def goog_desk(tmp_path_factory: pytest.TempPathFactory) -> Platform:
    home = tmp_path_factory.mktemp("goog")
    desk = bootstrap(plugin_settings(home / "home"))
    desk.instruments.add(
        InstrumentSpec(
            instrument_id=IID,
            asset_class=AssetClass.EQUITY,
            currency="USD",
            tick_size=Decimal("0.01"),
        )
    )
    csv = home / "goog.csv"
    lines = ["timestamp,open,high,low,close,volume"]
    for ts, row in GOOG.iterrows():
        lines.append(
            f"{ts:%Y-%m-%dT%H:%M:%SZ},{row.Open:.2f},{row.High:.2f},{row.Low:.2f},"
            f"{row.Close:.2f},{int(row.Volume)}"
        )
    csv.write_text("\n".join(lines) + "\n")
    summary = desk.ingest.ingest_bars(
        csv, IID, BAR_SPEC, BarIngestOptions(timestamp_at=TimestampAt.OPEN)
    )
    assert summary.rows_written == len(GOOG)
    return desk


def sma_cross_spec(long_only: bool = False, kind: str = STRATEGY) -> StrategySpec:
    """The trend_following family with SMAs (``kind="family"``), or the tests' own probe."""
    if kind == "family":
        path = "quantdesk.strategies.trend_following"
        return StrategySpec(
            strategy_path=f"{path}:TrendFollowing",
            config_path=f"{path}:TrendFollowingConfig",
            config={
                "instrument_ids": [IID],
                "bar_spec": BAR_SPEC,
                "fast_period": 10,
                "slow_period": 20,
                "ma_type": "sma",
                "trade_size": "100",
                "long_only": long_only,
            },
        )
    path = "support.sma_cross_probe"
    return StrategySpec(
        strategy_path=f"{path}:SmaCrossProbe",
        config_path=f"{path}:SmaCrossProbeConfig",
        config={
            "instrument_id": IID,
            "bar_type": f"{IID}-{BAR_SPEC}-EXTERNAL",
            "fast": 10,
            "slow": 20,
            "trade_size": "100",
            "long_only": long_only,
        },
    )


def reference(
    data: pd.DataFrame,
    *,
    long_only: bool = False,
    commission: float | Callable[[float, float], float] = RATE,
    trade_on_close: bool = False,
    kind: str = STRATEGY,
) -> pd.Series:
    """backtesting.py's own run (fixed size 100): the family's rule (``SmaTrend``: long while
    fast > slow, else short or flat), or its SmaCross example for the probe (on crosses)."""

    class SmaCross(Strategy):  # type: ignore[misc]
        def init(self) -> None:
            self.fast = self.I(SMA, self.data.Close, 10)
            self.slow = self.I(SMA, self.data.Close, 20)

        def next(self) -> None:
            if crossover(self.fast, self.slow):
                self.position.close()
                self.buy(size=100)
            elif crossover(self.slow, self.fast):
                self.position.close()
                if not long_only:
                    self.sell(size=100)

    class SmaTrend(SmaCross):
        def next(self) -> None:
            held = self.position.size
            if self.fast[-1] > self.slow[-1]:
                if held < 0:
                    self.position.close()
                if held <= 0:
                    self.buy(size=100)
            else:
                if held > 0:
                    self.position.close()
                if not long_only and held >= 0:
                    self.sell(size=100)

    backtest = Backtest(
        data,
        SmaTrend if kind == "family" else SmaCross,
        cash=CASH,
        commission=commission,
        trade_on_close=trade_on_close,
    )
    with warnings.catch_warnings():  # the last trade stays open, as in quantdesk's run
        warnings.filterwarnings("ignore", message="Some trades remain open")
        stats: pd.Series = backtest.run()
    return stats


def quantdesk_run(
    desk: Platform,
    *,
    end_ns: int | None = None,
    long_only: bool = False,
    kind: str = STRATEGY,
    **venue: Any,
) -> BacktestResult:
    return run_specs(
        desk,
        [sma_cross_spec(long_only, kind)],
        instruments=[IID],
        bar_spec=BAR_SPEC,
        start_ns=first_bar_ns(kind),
        end_ns=end_ns,
        venues=[
            {
                "name": "SIM",
                "starting_balance": str(CASH),
                "liquidity": "unlimited",
                "taker_fee": str(RATE),
                "maker_fee": str(RATE),
                **venue,
            }
        ],
    )


def first_bar_ns(kind: str) -> int:
    """backtesting.py calls ``next`` from the bar after its indicators' warm-up (its
    ``crossover`` wants two values); the family decides on the bar its averages are warm. So
    the family's run starts a bar later: both decide first on bar 20, with the same SMAs."""
    return _closes_ns(GOOG.index)[1 if kind == "family" else 0]


def trade_list(desk: Platform, result: BacktestResult) -> list[tuple[int, int, int, float, float]]:
    """(size, entry bar, exit bar, entry price, exit price) per closed trade, by bar index."""
    bar_of = {ts: i for i, ts in enumerate(_closes_ns(GOOG.index))}
    return [
        (
            int(p.side * p.peak_quantity),
            bar_of[p.opened_ns],
            bar_of[p.closed_ns],
            round(p.avg_px_open, 2),
            round(p.avg_px_close, 2),
        )
        for p in desk.backtests.artifacts(result.run_id).positions
    ]


def reference_trades(stats: pd.Series) -> list[tuple[int, int, int, float, float]]:
    trades = stats._trades
    return [
        (
            int(t.Size),
            int(t.EntryBar),
            int(t.ExitBar),
            round(t.EntryPrice, 2),
            round(t.ExitPrice, 2),
        )
        for t in trades.itertuples()
    ]


@pytest.mark.parametrize("kind", ["family", "probe"])
@pytest.mark.parametrize("long_only", [False, True])
def test_next_open_trades_as_backtesting_py(
    goog_desk: Platform, long_only: bool, kind: str
) -> None:
    stats = reference(GOOG, long_only=long_only, kind=kind)
    result = quantdesk_run(goog_desk, long_only=long_only, kind=kind, fill_at="next_open")
    expected = reference_trades(stats)
    assert len(expected) > 40
    assert trade_list(goog_desk, result) == expected
    assert result.metrics.end_equity == pytest.approx(stats["Equity Final [$]"], rel=1e-6)
    assert result.warnings == [] and result.engine_rejections == []


def test_close_trades_as_backtesting_py_on_close(goog_desk: Platform) -> None:
    """The default convention is unchanged: the decision bar's own close."""
    stats = reference(GOOG, trade_on_close=True)
    result = quantdesk_run(goog_desk)  # fill_at defaults to close
    assert result.request.venues[0].fill_at == "close"
    assert trade_list(goog_desk, result) == reference_trades(stats)
    assert result.metrics.end_equity == pytest.approx(stats["Equity Final [$]"], rel=1e-6)
    next_open = quantdesk_run(goog_desk, fill_at="next_open")
    assert trade_list(goog_desk, next_open) != trade_list(goog_desk, result)
    assert next_open.fingerprint != result.fingerprint  # the convention decides the outcome


@pytest.mark.parametrize("long_only", [False, True])
def test_an_order_decided_on_the_last_bar_is_reported_not_filled(
    goog_desk: Platform, long_only: bool
) -> None:
    entry_bar = int(reference(GOOG, long_only=long_only)._trades.EntryBar.iloc[10])
    decided = entry_bar - 1  # the run ends on the bar the orders are decided on
    data = GOOG.iloc[: decided + 1]
    stats = reference(data, long_only=long_only)
    end_ns = _closes_ns(GOOG.index)[decided]
    result = quantdesk_run(goog_desk, end_ns=end_ns, long_only=long_only, fill_at="next_open")
    assert trade_list(goog_desk, result) == reference_trades(stats)
    assert result.metrics.end_equity == pytest.approx(stats["Equity Final [$]"], rel=1e-6)
    (refusal,) = result.engine_rejections
    assert refusal.kind == "denied" and refusal.reason == "NO_NEXT_OPEN"
    assert refusal.count == (1 if long_only else 2)  # a reversal: the close and the new entry
    assert refusal.first_ts == [end_ns] * refusal.count
    assert any("NO_NEXT_OPEN" in line for line in result.warnings)


def test_commission_per_unit_adds_to_the_rate(goog_desk: Platform) -> None:
    per_unit = 0.01
    result = quantdesk_run(goog_desk, fill_at="next_open", commission_per_unit=str(per_unit))
    fills = list(goog_desk.backtests.artifacts(result.run_id).fills)
    assert len(fills) > 80
    for fill in fills:  # by hand: 0.2 % of notional plus 1 cent a share, in cents
        expected = round(fill.quantity * fill.price * RATE + fill.quantity * per_unit, 2)
        assert fill.commission == pytest.approx(expected, abs=1e-9)
        assert fill.commission_currency == "USD"
    stats = reference(GOOG, commission=lambda size, price: abs(size) * (price * RATE + per_unit))
    assert trade_list(goog_desk, result) == reference_trades(stats)
    assert result.metrics.end_equity == pytest.approx(stats["Equity Final [$]"], rel=1e-6)
    assert result.fingerprint != quantdesk_run(goog_desk, fill_at="next_open").fingerprint


@pytest.mark.parametrize("chunk_size", [7, None])
def test_next_open_is_the_same_streamed_in_small_chunks_or_at_once(
    goog_desk: Platform, chunk_size: int | None
) -> None:
    """The open tick travels with its bar, so a chunk boundary never parts them."""
    default = quantdesk_run(goog_desk, fill_at="next_open")
    plan = raw_plan(
        [sma_cross_spec(kind=STRATEGY)],
        instruments=[IID],
        bar_spec=BAR_SPEC,
        start_ns=first_bar_ns(STRATEGY),
        venues=[v.model_dump() for v in default.request.venues],
        engine={"log_level": "OFF", "chunk_size": chunk_size},
    )
    other = goog_desk.backtests.run_plan(plan)
    ours = list(goog_desk.backtests.artifacts(other.run_id).fills)
    assert ours == list(goog_desk.backtests.artifacts(default.run_id).fills)
    assert other.fingerprint == default.fingerprint


def test_commission_per_unit_alone_keeps_the_instruments_rates(goog_desk: Platform) -> None:
    result = quantdesk_run(goog_desk, maker_fee=None, taker_fee=None, commission_per_unit="0.05")
    fills = list(goog_desk.backtests.artifacts(result.run_id).fills)
    assert fills and {f.commission for f in fills} == {5.0}  # 100 shares x 0.05, rate 0
