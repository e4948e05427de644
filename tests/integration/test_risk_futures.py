"""Unified risk on the real engine: a future valued at price x multiplier in the gate, a
per-asset-class limit that binds while the portfolio's does not, and the margin check
denying an order whose initial margin (margin_init x notional) exceeds free equity."""

from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from quantdesk.bootstrap import bootstrap
from quantdesk.domain import options
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
    settings = BarIngestOptions()
    desk.ingest.ingest_bars(write(root / "es.csv", es_rows(BARS)), ES, "1-MINUTE-LAST", settings)
    desk.ingest.ingest_bars(write(root / "aapl.csv", rows(BARS)), AAPL, "1-MINUTE-LAST", settings)
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
    settings = BarIngestOptions()
    desk.ingest.ingest_bars(write(tmp_path / "niy.csv", niy), NIY, "1-MINUTE-LAST", settings)
    desk.ingest.ingest_bars(write(tmp_path / "jpy.csv", yen), USDJPY, "1-MINUTE-LAST", settings)
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


CALL = "AAPL240315C00100000.XNAS"
CALL_EXPIRY_NS = 1_710_532_800_000_000_000  # 2024-03-15T20:00:00Z


def test_an_option_counts_its_delta_adjusted_notional_and_shows_its_premium(
    tmp_path: Path,
) -> None:
    """An at-the-money call on AAPL (~100) with a multiplier of 100 has a delta near 0.55:
    ~5,500 USD of exposure a contract. An options limit of 20,000 holds three (at the
    premium, ~700 a contract, it would hold 28; at the underlying's notional, two)."""
    desk = bootstrap(plugin_settings(tmp_path / "home"))
    desk.instruments.add(
        InstrumentSpec(
            instrument_id=AAPL, asset_class=AssetClass.EQUITY, currency="USD", tick_size=0.01
        )
    )
    desk.instruments.add(
        InstrumentSpec(
            instrument_id=CALL,
            asset_class=AssetClass.OPTION,
            underlying=AAPL,
            option_kind="call",
            strike=Decimal(100),
            currency="USD",
            tick_size=Decimal("0.01"),
            multiplier=Decimal(100),
            expiration_ns=CALL_EXPIRY_NS,
        )
    )
    underlying = rows(BARS)
    calls = []
    for i, row in enumerate(underlying):
        t = options.year_fraction(T0 + i * MINUTE_NS, CALL_EXPIRY_NS)
        s = float(str(row[4]))
        value = options.price(options.OptionKind.CALL, s=s, k=100.0, t=t, sigma=0.3, r=0, b=0)
        close = f"{value:.2f}"
        calls.append([row[0], close, close, close, close, 1000])
    settings = BarIngestOptions()
    desk.ingest.ingest_bars(
        write(tmp_path / "aapl.csv", underlying), AAPL, "1-MINUTE-LAST", settings
    )
    desk.ingest.ingest_bars(write(tmp_path / "call.csv", calls), CALL, "1-MINUTE-LAST", settings)
    plan = raw_plan(
        [reckless(CALL, seed=7, max_size=5, tag="O")],
        instruments=[CALL, AAPL],  # the underlying's bars stream too: its price values the delta
        venues=[{"name": "XNAS", "liquidity": "unlimited"}],
        engine={"log_level": "OFF"},
        risk={"limits": {"asset_classes": {"option": {"max_gross_exposure": "20000"}}}},
    )
    result = desk.backtests.run_plan(plan)
    fills = desk.backtests.artifacts(result.run_id).fills
    held, peak = 0.0, 0.0
    for fill in sorted(fills, key=lambda f: f.ts_ns):
        held += fill.side * fill.quantity
        peak = max(peak, abs(held))
    assert peak == 3
    reduced = [e for e in result.risk_events if e.rule == "max_gross_exposure"]
    assert reduced and all(e.scope == "asset_class:option" for e in reduced)
    close_at = {T0 + i * MINUTE_NS: Decimal(str(row[4])) for i, row in enumerate(calls)}
    for event in reduced:  # premium at risk: |position after| x the option's close x 100
        before = sum(f.side * f.quantity for f in fills if f.ts_ns < event.ts_ns)
        after = {abs(before + side * float(event.approved)) for side in (1, -1)}
        contracts = Decimal(event.premium_at_risk) / 100 / close_at[event.ts_ns]
        assert contracts == int(contracts) and int(contracts) in after, (event, before)
    report = Path(desk.backtests.report_path(result.run_id)).read_text()
    assert "<th>premium at risk</th>" in report
