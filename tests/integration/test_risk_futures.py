"""Unified risk on the real engine: a future valued at price x multiplier in the gate, a
per-asset-class limit that binds while the portfolio's does not, and the margin check
denying an order whose initial margin (margin_init x notional) exceeds free equity."""

from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from quantdesk.bootstrap import bootstrap
from quantdesk.domain.backtest import StrategySpec
from quantdesk.domain.instruments import AssetClass, InstrumentSpec
from quantdesk.domain.market_data import BarIngestOptions
from quantdesk.services.platform import Platform
from support.bars import MINUTE_NS, T0, iso, rows
from support.plugin_desk import plugin_settings
from support.strategy_runs import raw_plan

ES = "ESH4.XCME"
AAPL = "AAPL.XNAS"
BARS = 240
MULTIPLIER = 50


def es_rows(n: int) -> list[list[object]]:
    """Minute bars of ES around 5,000 at its 0.25 tick, with volume to spare."""
    out: list[list[object]] = []
    for i in range(n):
        o = 5000 + (i % 9) * 0.25
        c = o + (0.25 if i % 2 else -0.25)
        out.append([iso(T0 + i * MINUTE_NS), o, max(o, c) + 0.25, min(o, c) - 0.25, c, 10_000])
    return out


def write(path: Path, table: list[list[object]]) -> Path:
    lines = ["timestamp,open,high,low,close,volume"]
    lines += [",".join(str(v) for v in row) for row in table]
    path.write_text("\n".join(lines) + "\n")
    return path


def future(margin_init: str) -> InstrumentSpec:
    return InstrumentSpec(
        instrument_id=ES,
        asset_class=AssetClass.FUTURE,
        underlying="ES",
        underlying_class="index",
        currency="USD",
        tick_size=Decimal("0.25"),
        multiplier=Decimal(MULTIPLIER),
        expiration_ns="2024-03-15T13:30:00Z",
        margin_init=Decimal(margin_init),
    )


def market(root: Path, margin_init: str) -> Path:
    desk = bootstrap(home=root / "home")
    desk.instruments.add(future(margin_init))
    desk.instruments.add(
        InstrumentSpec(
            instrument_id=AAPL,
            asset_class=AssetClass.EQUITY,
            currency="USD",
            tick_size=Decimal("0.01"),
        )
    )
    options = BarIngestOptions()
    desk.ingest.ingest_bars(write(root / "es.csv", es_rows(BARS)), ES, "1-MINUTE-LAST", options)
    desk.ingest.ingest_bars(write(root / "aapl.csv", rows(BARS)), AAPL, "1-MINUTE-LAST", options)
    return root / "home"


@pytest.fixture(scope="module")
def futures_desk(tmp_path_factory: pytest.TempPathFactory) -> Platform:
    return bootstrap(plugin_settings(market(tmp_path_factory.mktemp("futures"), "0.05")))


@pytest.fixture(scope="module")
def margined_desk(tmp_path_factory: pytest.TempPathFactory) -> Platform:
    return bootstrap(plugin_settings(market(tmp_path_factory.mktemp("margined"), "0.5")))


def reckless(instrument: str, seed: int, max_size: int, tag: str) -> StrategySpec:
    return StrategySpec(
        strategy_path="support.reckless:Reckless",
        config_path="support.reckless:RecklessConfig",
        config={
            "instrument_id": instrument,
            "bar_type": f"{instrument}-1-MINUTE-LAST-EXTERNAL",
            "order_id_tag": tag,
            "seed": seed,
            "max_size": max_size,
        },
    )


def test_a_per_class_limit_binds_on_futures_at_price_times_multiplier(
    futures_desk: Platform,
) -> None:
    """600,000 of futures gross: two ES contracts (~250,000 each), never three; the equity
    strategy beside it trades under the portfolio's far wider limit."""
    plan = raw_plan(
        [reckless(ES, seed=3, max_size=4, tag="F"), reckless(AAPL, seed=4, max_size=50, tag="E")],
        instruments=[ES, AAPL],
        venues=[{"name": "XCME", "liquidity": "unlimited"}, {"name": "XNAS"}],
        engine={"log_level": "OFF"},
        risk={
            "limits": {
                "max_gross_exposure": "10000000",
                "asset_classes": {"future": {"max_gross_exposure": "600000"}},
            }
        },
    )
    result = futures_desk.backtests.run_plan(plan)
    fills = futures_desk.backtests.artifacts(result.run_id).fills
    held: dict[str, float] = defaultdict(float)
    peak: dict[str, float] = defaultdict(float)
    for fill in sorted(fills, key=lambda f: f.ts_ns):
        held[fill.instrument_id] += fill.side * fill.quantity
        peak[fill.instrument_id] = max(peak[fill.instrument_id], abs(held[fill.instrument_id]))
    assert peak[ES] == 2  # 3 x 5,000 x 50 = 750,000 > 600,000; a multiplier of 1 allows 120
    assert peak[AAPL] > 0
    scoped = [e for e in result.risk_events if e.scope == "asset_class:future"]
    assert scoped and {e.rule for e in scoped} == {"max_gross_exposure"}
    assert all(e.instrument_id == ES for e in scoped)
    assert not [e for e in result.risk_events if e.scope == "portfolio"]


def test_an_order_whose_initial_margin_exceeds_free_equity_is_denied(
    margined_desk: Platform,
) -> None:
    """margin_init 0.5 of ~250,000 a contract is ~125,000: with 200,000 one contract opens,
    a second would need ~250,000 and is denied with the figures (in the base currency)."""
    plan = raw_plan(
        [reckless(ES, seed=5, max_size=3, tag="M")],
        instruments=[ES],
        venues=[{"name": "XCME", "liquidity": "unlimited", "starting_balance": "200000"}],
        engine={"log_level": "OFF"},
    )
    result = margined_desk.backtests.run_plan(plan)
    fills = margined_desk.backtests.artifacts(result.run_id).fills
    assert fills
    held = 0.0
    for fill in sorted(fills, key=lambda f: f.ts_ns):
        held += fill.side * fill.quantity
        assert abs(held) <= 1
    (refusal,) = result.engine_rejections
    assert refusal.reason == "INSUFFICIENT_MARGIN" and refusal.count > 0
    margin, equity = (
        float(refusal.example.split(word)[1].split()[0].replace(",", ""))
        for word in ("margin ", "equity ")
    )
    assert margin > equity
    contracts = margin / (0.5 * MULTIPLIER * 5000)
    assert round(contracts) >= 2 and abs(contracts - round(contracts)) < 0.01


NIY, USDJPY = "NIYH4.XOSE", "USD/JPY.SIM"


def test_a_jpy_quoted_future_is_limited_in_usd_at_the_rate_and_multiplier(
    tmp_path: Path,
) -> None:
    """NIY at ~33,000 JPY x 500 at ~150 JPY a dollar is ~110,000 USD a contract: a futures
    limit of 250,000 USD holds two (in JPY, not one would fit; without the multiplier, 1,000s)."""
    desk = bootstrap(plugin_settings(tmp_path / "home"))
    desk.instruments.add(
        future("0.1").model_copy(
            update={"instrument_id": NIY, "currency": "JPY", "multiplier": Decimal(500)}
        )
    )
    desk.instruments.add(
        InstrumentSpec(
            instrument_id=USDJPY,
            asset_class=AssetClass.FX,
            currency="JPY",
            base_currency="USD",
            tick_size=Decimal("0.001"),
        )
    )
    niy = [
        [r[0], *(33_000 + 5 * (i % 5) for _ in range(4)), 1000] for i, r in enumerate(es_rows(BARS))
    ]
    yen = [
        [r[0], *(f"{150 + (i % 3) * 0.01:.3f}" for _ in range(4)), 1000]
        for i, r in enumerate(es_rows(BARS))
    ]
    options = BarIngestOptions()
    desk.ingest.ingest_bars(write(tmp_path / "niy.csv", niy), NIY, "1-MINUTE-LAST", options)
    desk.ingest.ingest_bars(write(tmp_path / "jpy.csv", yen), USDJPY, "1-MINUTE-LAST", options)
    plan = raw_plan(
        [reckless(NIY, seed=6, max_size=4, tag="J")],
        instruments=[NIY],
        venues=[{"name": "XOSE", "liquidity": "unlimited"}],
        engine={"log_level": "OFF"},
        risk={"limits": {"asset_classes": {"future": {"max_gross_exposure": "250000"}}}},
    )
    result = desk.backtests.run_plan(plan)
    fills = desk.backtests.artifacts(result.run_id).fills
    held, peak = 0.0, 0.0
    for fill in sorted(fills, key=lambda f: f.ts_ns):
        held += fill.side * fill.quantity
        peak = max(peak, abs(held))
    assert peak == 2
    reduced = [e for e in result.risk_events if e.rule == "max_gross_exposure"]
    assert reduced and all(e.scope == "asset_class:future" for e in reduced)
    value = max(Decimal(e.detail.split("value ")[1].rstrip(")")) for e in reduced)
    assert 3 * 33_000 * 500 / 150.03 < value < 6 * 33_025 * 500 / 149.99  # USD, not JPY
