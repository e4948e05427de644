"""What the engine refuses, what bars can fill, and requests that must fail before running,
on the real engine over small catalogs (Property 1: backtests run on NautilusTrader behind
quantdesk's own API, and nothing it does is hidden from the result)."""

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from quantdesk.bootstrap import bootstrap
from quantdesk.domain.backtest_plan import RunPlan
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.execution import AllOrdersRefusedError
from quantdesk.domain.instruments import AssetClass, InstrumentSpec
from quantdesk.domain.market_data import BarIngestOptions
from quantdesk.services.platform import Platform
from quantdesk.services.synthetic import SyntheticMarketConfig
from support.bars import rows
from support.strategy_runs import ema_specs, raw_plan, updated

ACME = "ACME.XNAS"
TICK = 0.01
BARS = 300


@pytest.fixture(scope="module")
def acme(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 minute bars of one equity (volumes 100..399), as LAST and as BID bars."""
    root = tmp_path_factory.mktemp("acme")
    desk = bootstrap(home=root / "home")
    desk.instruments.add(
        InstrumentSpec(
            instrument_id=ACME,
            asset_class=AssetClass.EQUITY,
            currency="USD",
            tick_size=Decimal("0.01"),
        )
    )
    path = root / "bars.csv"
    lines = ["timestamp,open,high,low,close,volume"]
    lines += [",".join(str(v) for v in row) for row in rows(BARS)]
    path.write_text("\n".join(lines) + "\n")
    for spec in ("1-MINUTE-LAST", "1-MINUTE-BID"):
        desk.ingest.ingest_bars(path, ACME, spec, BarIngestOptions())
    return root / "home"


@pytest.fixture
def desk(acme: Path) -> Platform:
    return bootstrap(home=acme)


def ema(spec: str = "1-MINUTE-LAST", venue: dict[str, Any] | None = None, **params: Any) -> RunPlan:
    params = {"fast": 3, "slow": 8, **params}
    return raw_plan(
        ema_specs([ACME], spec, params),
        instruments=[ACME],
        bar_spec=spec,
        venues=[{"name": "XNAS", **(venue or {})}],
        engine={"log_level": "OFF"},
    )


def closes_at(desk: Platform, run_id: str) -> dict[int, float]:
    times, closes = desk.backtests.artifacts(run_id).prices[ACME]
    return dict(zip(times.tolist(), closes.tolist(), strict=True))


# -- item 2: single-sided bars, engine refusals ------------------------------------------


def test_bid_bars_without_a_spread_fail_before_running(desk: Platform) -> None:
    """Alone, BID bars make no market: every order would bounce with 'no market'."""
    with pytest.raises(InvalidInputError, match="one side of the market") as caught:
        desk.backtests.run_plan(ema("1-MINUTE-BID"))
    assert caught.value.hint is not None and "bar_spread" in caught.value.hint


@pytest.mark.parametrize("chunk_size", [100, None])  # streamed in chunks, and all at once
def test_bid_bars_with_a_spread_buy_at_the_ask_and_sell_at_the_bid(
    desk: Platform, chunk_size: int | None
) -> None:
    request = ema("1-MINUTE-BID", {"bar_spread": "0.02", "liquidity": "unlimited"})
    result = desk.backtests.run_plan(
        updated(
            request, engine=request.request.engine.model_copy(update={"chunk_size": chunk_size})
        )
    )
    assert result.engine_rejections == [] and result.warnings == []
    fills = list(desk.backtests.artifacts(result.run_id).fills)
    assert len(fills) > 10
    bids = closes_at(desk, result.run_id)
    for fill in fills:
        expected = bids[fill.ts_ns] + (0.02 if fill.side > 0 else 0.0)
        assert fill.price == pytest.approx(expected, abs=1e-9)


def test_a_spread_off_the_tick_grid_or_for_last_bars_is_refused(desk: Platform) -> None:
    with pytest.raises(InvalidInputError, match="not a multiple of"):
        desk.backtests.run_plan(ema("1-MINUTE-BID", {"bar_spread": "0.015"}))
    with pytest.raises(InvalidInputError, match="need none"):
        desk.backtests.run_plan(ema("1-MINUTE-LAST", {"bar_spread": "0.02"}))


def test_engine_denials_are_counted_and_warned_about(desk: Platform) -> None:
    """A submit rate of one order a second denies the second order of every flip."""
    request = updated(
        ema(), risk=ema().risk.model_copy(update={"max_order_submit_rate": "1/00:00:01"})
    )
    result = desk.backtests.run_plan(request)
    assert result.facts.fills > 0
    (refusal,) = result.engine_rejections
    assert refusal.kind == "denied"
    assert refusal.reason == "Exceeded MAX_ORDER_SUBMIT_RATE"
    assert refusal.count == result.orders_refused > 0
    assert refusal.first_ts == sorted(refusal.first_ts) and len(refusal.first_ts) <= 5
    assert result.warnings and f"{refusal.count:,}" in result.warnings[0]
    report = Path(desk.backtests.report_path(result.run_id)).read_text()
    assert "Orders refused by the engine" in report and "MAX_ORDER_SUBMIT_RATE" in report


# -- item 3: leverage and margin ---------------------------------------------------------


def test_orders_beyond_buying_power_are_denied_and_fail_the_run(desk: Platform) -> None:
    """400 shares at ~100 need ~40,000 of margin at leverage 1; the account holds 10,000."""
    with pytest.raises(AllOrdersRefusedError) as caught:
        desk.backtests.run_plan(ema(venue={"starting_balance": "10000"}, trade_size=400))
    error = caught.value
    assert error.code == "all_orders_refused"
    assert error.data["refusals"][0]["reason"] == "INSUFFICIENT_MARGIN"
    assert error.data["orders_refused"] > 0
    assert "leverage" in (error.hint or "")


def test_leverage_gives_the_buying_power_it_says(desk: Platform) -> None:
    """At leverage 5 the same orders fill, none past 5 x equity; once losses shrink the
    equity below what a new position needs, that order is denied with the figures."""
    result = desk.backtests.run_plan(
        ema(venue={"starting_balance": "10000", "default_leverage": "5"}, trade_size=400)
    )
    assert result.facts.fills > 0
    artifacts = desk.backtests.artifacts(result.run_id)
    assert max(p.peak_quantity * p.avg_px_open for p in artifacts.positions) <= 5 * 10_000
    for refusal in result.engine_rejections:
        assert refusal.reason == "INSUFFICIENT_MARGIN"
        margin, equity = (
            float(refusal.example.split(word)[1].split()[0].replace(",", ""))
            for word in ("margin ", "equity ")
        )
        assert margin > equity


def test_margin_caps_a_position_at_equity_times_leverage(desk: Platform) -> None:
    """At leverage 2 with 10,000: orders of 150 (~15,000) pass, orders of 250 (~25,000) not."""
    ok = desk.backtests.run_plan(
        ema(venue={"starting_balance": "10000", "default_leverage": "2"}, trade_size=150)
    )
    assert ok.facts.fills > 0
    with pytest.raises(AllOrdersRefusedError):
        desk.backtests.run_plan(
            ema(venue={"starting_balance": "10000", "default_leverage": "2"}, trade_size=250)
        )


def test_cash_accounts_cannot_buy_beyond_their_cash(desk: Platform) -> None:
    """Before, the engine ended the run with AccountBalanceNegative (a traceback)."""
    cash = {"account_type": "CASH", "starting_balance": "10000"}
    with pytest.raises(AllOrdersRefusedError) as caught:
        desk.backtests.run_plan(ema(venue=cash, trade_size=400, long_only=True))
    assert caught.value.data["refusals"][0]["reason"] == "INSUFFICIENT_CASH"
    result = desk.backtests.run_plan(ema(venue=cash, trade_size=90))  # the venue refuses shorts
    assert result.facts.fills > 0
    shorts = [r for r in result.engine_rejections if r.reason.startswith("SHORT SELLING")]
    assert all(r.kind == "rejected" for r in shorts)
    assert sum(r.count for r in shorts) > len(shorts)  # grouped by cause, not one per order
    others = {r.reason for r in result.engine_rejections} - {r.reason for r in shorts}
    assert others <= {"INSUFFICIENT_CASH"}  # and the run ended: the cash never went negative


# -- item 4: fills against bar volume ----------------------------------------------------


def test_volume_limited_fills_are_split_and_their_slippage_reported(desk: Platform) -> None:
    """1,000 shares on bars of 100..399: a quarter of the volume at the close, the rest a
    tick worse."""
    result = desk.backtests.run_plan(ema(trade_size=1000))
    execution = result.execution
    assert execution is not None
    fills = list(desk.backtests.artifacts(result.run_id).fills)
    closes = closes_at(desk, result.run_id)
    by_order: dict[str, list[Any]] = {}
    for fill in fills:
        by_order.setdefault(fill.order_id, []).append(fill)
    expected_slippage = 0.0
    for parts in by_order.values():
        first, *rest = parts
        assert first.price == pytest.approx(closes[first.ts_ns])
        for part in rest:
            assert part.price == pytest.approx(first.price + part.side * TICK)
            expected_slippage += part.quantity * TICK
    split = sum(1 for parts in by_order.values() if len(parts) > 1)
    assert execution.orders_filled == len(by_order) == result.facts.orders
    assert execution.split_orders == split == len(by_order)  # every order exceeds a bar
    assert execution.split_fills == len(fills) - len(by_order)
    assert execution.slippage == pytest.approx(expected_slippage)
    assert expected_slippage > 0


def test_unlimited_liquidity_fills_whole_orders_at_the_close(desk: Platform) -> None:
    volume = desk.backtests.run_plan(ema(trade_size=1000))
    unlimited = desk.backtests.run_plan(ema(venue={"liquidity": "unlimited"}, trade_size=1000))
    assert unlimited.fingerprint != volume.fingerprint  # the option decides fills
    assert unlimited.execution is not None
    assert unlimited.execution.split_orders == 0 and unlimited.execution.slippage == 0
    closes = closes_at(desk, unlimited.run_id)
    fills = list(desk.backtests.artifacts(unlimited.run_id).fills)
    assert len(fills) == unlimited.facts.orders > 0
    assert all(f.quantity == 1000 and f.price == pytest.approx(closes[f.ts_ns]) for f in fills)


# -- item 5: requests that must fail before running --------------------------------------


def test_a_warm_up_longer_than_the_data_is_an_error(desk: Platform) -> None:
    with pytest.raises(InvalidInputError, match=r"needs 1,000,000,000 bars .* the run has 300"):
        desk.backtests.run_plan(ema(slow=1_000_000_000))
    with pytest.raises(InvalidInputError, match="warm up"):
        desk.backtests.run_plan(ema(slow=BARS + 1))
    assert desk.backtests.run_plan(ema(slow=BARS)).facts.bars == BARS  # exactly enough: it runs


@pytest.mark.parametrize("fee", ["-0.5", "50", "0.11"])
def test_insane_fee_rates_are_refused(fee: str) -> None:
    with pytest.raises(ValueError, match="taker_fee"):
        ema(venue={"taker_fee": fee})
    with pytest.raises(ValueError, match="maker_fee"):
        ema(venue={"maker_fee": fee})


def test_a_rebate_and_an_ordinary_fee_are_accepted() -> None:
    venue = ema(venue={"maker_fee": "-0.0002", "taker_fee": "0.001"}).request.venues[0]
    assert (venue.maker_fee, venue.taker_fee) == (Decimal("-0.0002"), Decimal("0.001"))


def test_a_bar_type_of_another_instrument_is_an_error(tmp_path: Path) -> None:
    desk = bootstrap(home=tmp_path / "home")
    desk.synthetic.synthesize(SyntheticMarketConfig(instruments=2, days=1, seed=2))
    (spec,) = ema_specs(["SYN01.SIM"], "1-MINUTE-LAST", {})
    wrong = spec.model_copy(
        update={"config": {**spec.config, "bar_type": "SYN02.SIM-1-MINUTE-LAST-EXTERNAL"}}
    )
    request = raw_plan([wrong], instruments=["SYN01.SIM", "SYN02.SIM"], engine={"log_level": "OFF"})
    with pytest.raises(InvalidInputError, match=r"not a bar series of its instrument SYN01"):
        desk.backtests.run_plan(request)
    unstreamed = spec.model_copy(
        update={"config": {**spec.config, "bar_type": "SYN01.SIM-5-MINUTE-LAST-EXTERNAL"}}
    )
    with pytest.raises(InvalidInputError, match="not streamed by this run"):
        desk.backtests.run_plan(updated(request, strategies=[unstreamed]))
