"""fill_at next_open in the engine: what the open offers (liquidity), single-sided bars with a
spread, orders at the stop, and an order with no bar after it.

Bars from ``support.bars.rows`` (stamped at their close); the Buyer plug-in buys on its fifth
bar, so under next_open it fills at the sixth bar's open (index 5).
"""

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from quantdesk.bootstrap import bootstrap
from quantdesk.domain.backtest import BacktestResult, StrategySpec
from quantdesk.domain.execution import AllOrdersRefusedError
from quantdesk.domain.instruments import AssetClass, InstrumentSpec
from quantdesk.services.platform import Platform
from support.bars import MINUTE_NS, T0, rows
from support.plugin_desk import plugin_settings
from support.strategy_runs import run_specs

IID = "ACME.SIM"


@pytest.fixture
def acme(tmp_path: Path) -> Platform:
    desk = bootstrap(plugin_settings(tmp_path / "home"))
    desk.instruments.add(
        InstrumentSpec(
            instrument_id=IID,
            asset_class=AssetClass.EQUITY,
            currency="USD",
            tick_size=Decimal("0.01"),
        )
    )
    return desk


def ingest(
    desk: Platform, write_csv: Callable[..., Path], bars: list[list[object]], spec: str
) -> None:
    desk.ingest.ingest_bars(write_csv(bars), IID, spec)


def buyer(bar_spec: str, quantity: int = 100, **config: Any) -> StrategySpec:
    return StrategySpec(
        strategy_path="qd_test_plugins.buyer:Buyer",
        config_path="qd_test_plugins.buyer:BuyerConfig",
        config={
            "instrument_id": IID,
            "bar_type": f"{IID}-{bar_spec}-EXTERNAL",
            "quantity": quantity,
            **config,
        },
    )


def run(
    desk: Platform,
    bar_spec: str = "1-MINUTE-LAST",
    config: dict[str, Any] | None = None,
    **venue: Any,
) -> BacktestResult:
    return run_specs(
        desk,
        [buyer(bar_spec, **(config or {}))],
        instruments=[IID],
        bar_spec=bar_spec,
        venues=[{"name": "SIM", "fill_at": "next_open", **venue}],
    )


def fills(desk: Platform, result: BacktestResult) -> list[tuple[int, int, float, float]]:
    return [
        (f.ts_ns, f.side, f.quantity, round(f.price, 2))
        for f in desk.backtests.artifacts(result.run_id).fills
    ]


def opens_and_closes(bars: list[list[object]]) -> tuple[list[float], list[float]]:
    return [float(str(b[1])) for b in bars], [float(str(b[4])) for b in bars]


def test_unlimited_fills_the_whole_order_at_the_next_open(
    acme: Platform, write_csv: Callable[..., Path]
) -> None:
    bars = rows(8)
    ingest(acme, write_csv, bars, "1-MINUTE-LAST")
    opens, _ = opens_and_closes(bars)
    result = run(acme, liquidity="unlimited")
    assert fills(acme, result) == [(T0 + 5 * MINUTE_NS, 1, 100.0, opens[5])]


def test_volume_fills_a_quarter_of_the_next_bar_at_its_open_the_rest_a_tick_worse(
    acme: Platform, write_csv: Callable[..., Path]
) -> None:
    bars = rows(8)  # volumes 100 + i: bar 5 offers 105 / 4 -> 26 at each of its prices
    ingest(acme, write_csv, bars, "1-MINUTE-LAST")
    opens, _ = opens_and_closes(bars)
    at = T0 + 5 * MINUTE_NS
    result = run(acme, liquidity="volume")
    assert fills(acme, result) == [
        (at, 1, 26.0, opens[5]),
        (at, 1, 74.0, round(opens[5] + 0.01, 2)),
    ]


def test_close_mode_fills_at_the_deciding_bars_close(
    acme: Platform, write_csv: Callable[..., Path]
) -> None:
    bars = rows(8)
    ingest(acme, write_csv, bars, "1-MINUTE-LAST")
    _, closes = opens_and_closes(bars)
    result = run(acme, liquidity="unlimited", fill_at="close")
    assert fills(acme, result) == [(T0 + 4 * MINUTE_NS, 1, 100.0, closes[4])]


def test_bid_bars_with_a_spread_buy_at_the_next_asks_open(
    acme: Platform, write_csv: Callable[..., Path]
) -> None:
    bars = rows(8)
    ingest(acme, write_csv, bars, "1-MINUTE-BID")
    opens, _ = opens_and_closes(bars)
    result = run(acme, "1-MINUTE-BID", liquidity="unlimited", bar_spread="0.02")
    assert fills(acme, result) == [(T0 + 5 * MINUTE_NS, 1, 100.0, round(opens[5] + 0.02, 2))]


def test_orders_at_the_stop_fill_at_the_last_close(
    acme: Platform, write_csv: Callable[..., Path]
) -> None:
    bars = rows(8)
    ingest(acme, write_csv, bars, "1-MINUTE-LAST")
    opens, closes = opens_and_closes(bars)
    result = run(acme, config={"flat_at_stop": True}, liquidity="unlimited")
    assert fills(acme, result) == [
        (T0 + 5 * MINUTE_NS, 1, 100.0, opens[5]),
        (T0 + 7 * MINUTE_NS, -1, 100.0, closes[7]),
    ]
    assert result.engine_rejections == []


def test_a_run_whose_only_order_has_no_next_bar_says_so(
    acme: Platform, write_csv: Callable[..., Path]
) -> None:
    ingest(acme, write_csv, rows(5), "1-MINUTE-LAST")  # decided on the fifth, the last bar
    with pytest.raises(AllOrdersRefusedError, match="NO_NEXT_OPEN") as refused:
        run(acme, liquidity="unlimited")
    assert "extend the run's end" in (refused.value.hint or "")


def test_a_cash_buy_the_open_makes_too_dear_is_denied_not_a_crash(
    acme: Platform, write_csv: Callable[..., Path]
) -> None:
    bars = rows(8)
    gap = [*bars[5][:1], "110.00", "110.50", "109.50", "110.20", bars[5][5]]  # opens 10 % up
    bars = [*bars[:5], gap, *bars[6:]]
    ingest(acme, write_csv, bars, "1-MINUTE-LAST")
    # 100 shares cost ~10,000 at the fifth close, 11,000 at the sixth open: the cash has 10,500
    with pytest.raises(AllOrdersRefusedError, match="NOTIONAL_EXCEEDS_FREE_BALANCE"):
        run(acme, liquidity="unlimited", account_type="CASH", starting_balance="10500")
    enough = run(acme, liquidity="unlimited", account_type="CASH", starting_balance="12000")
    assert fills(acme, enough) == [(T0 + 5 * MINUTE_NS, 1, 100.0, 110.0)]


def test_margin_is_checked_again_at_the_open_with_the_orders_before_pending(
    acme: Platform, write_csv: Callable[..., Path]
) -> None:
    """Held orders are not yet at the venue when the next is decided; released, the second
    of two buys the account cannot both carry is denied (as in close mode)."""
    ingest(acme, write_csv, rows(8), "1-MINUTE-LAST")
    specs = [buyer("1-MINUTE-LAST", order_id_tag=tag) for tag in ("001", "002")]
    venue = {"name": "SIM", "liquidity": "unlimited", "starting_balance": "15000"}
    for fill_at in ("close", "next_open"):
        result = run_specs(
            acme,
            specs,
            instruments=[IID],
            venues=[{**venue, "fill_at": fill_at}],
        )
        assert len(fills(acme, result)) == 1, fill_at
        (refusal,) = result.engine_rejections
        assert refusal.reason == "INSUFFICIENT_MARGIN" and refusal.count == 1


def test_each_instrument_fills_at_its_own_next_open(
    acme: Platform, write_csv: Callable[..., Path]
) -> None:
    beta = "BETA.SIM"
    acme.instruments.add(
        InstrumentSpec(
            instrument_id=beta,
            asset_class=AssetClass.EQUITY,
            currency="USD",
            tick_size=Decimal("0.01"),
        )
    )
    half = MINUTE_NS // 2  # BETA's bars close half a minute after ACME's
    acme_bars, beta_bars = rows(8), rows(8, start_ns=T0 + half, price=50.0)
    ingest(acme, write_csv, acme_bars, "1-MINUTE-LAST")
    acme.ingest.ingest_bars(write_csv(beta_bars), beta, "1-MINUTE-LAST")
    specs = [
        buyer("1-MINUTE-LAST", order_id_tag="001"),
        StrategySpec(
            strategy_path="qd_test_plugins.buyer:Buyer",
            config_path="qd_test_plugins.buyer:BuyerConfig",
            config={
                "instrument_id": beta,
                "bar_type": f"{beta}-1-MINUTE-LAST-EXTERNAL",
                "quantity": 100,
                "order_id_tag": "002",
            },
        ),
    ]
    result = run_specs(
        acme,
        specs,
        instruments=[IID, beta],
        venues=[{"name": "SIM", "fill_at": "next_open", "liquidity": "unlimited"}],
    )
    got = {
        f.instrument_id: (f.ts_ns, round(f.price, 2))
        for f in acme.backtests.artifacts(result.run_id).fills
    }
    assert got == {
        IID: (T0 + 5 * MINUTE_NS, opens_and_closes(acme_bars)[0][5]),
        beta: (T0 + half + 5 * MINUTE_NS, opens_and_closes(beta_bars)[0][5]),
    }
