"""One base currency on the real engine: a USD account trading USD/JPY, EUR/USD, a
JPY-quoted equity (7203.XTKS) and a JPY-quoted future (NIYH4.XCME, 500 yen a point), on
synthetic minute bars in a tmp catalog.

The equity curve must equal an independent pandas conversion of every fill and mark at the
USD/JPY closes (the last at or before each instant), to 1e-9 relative; the engine's own
account balance must hold the same realised flows (to the cents its Money rounds each fill
to); the rates used are recorded; a run without a JPY rate is refused before it starts.
"""

from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from quantdesk.adapters.nautilus.backtest import NautilusBacktestRunner
from quantdesk.adapters.nautilus.catalog import ParquetCatalog
from quantdesk.domain.backtest import BacktestResult
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.instruments import AssetClass, InstrumentSpec
from quantdesk.services.backtest_data import pin_range
from quantdesk.services.platform import Platform
from support.bars import MINUTE_NS, T0, iso
from support.strategy_runs import ema_specs, raw_plan

USDJPY, EURUSD, TOYOTA, NIY = "USD/JPY.SIM", "EUR/USD.SIM", "7203.XTKS", "NIYH4.XCME"
SPEC = "1-MINUTE-MID"
BARS = 400
BALANCE = 500_000.0  # per venue
TAKER = "0.0002"
SIZES = {USDJPY: 100_000, EURUSD: 100_000, TOYOTA: 2_000, NIY: 2}
MULTIPLIER = {NIY: 500.0}


def _walk(seed: int, start: float, step: float, decimals: int, tick: float = 0.0) -> list[float]:
    rng = np.random.default_rng(seed)
    path = start + np.cumsum(rng.normal(0.0, step, BARS))
    if tick:
        path = np.round(path / tick) * tick
    return [round(float(p), decimals) for p in path]


def _write(tmp: Path, name: str, closes: list[float], decimals: int, offset: int = 0) -> Path:
    lines = ["timestamp,open,high,low,close,volume"]
    for i, close in enumerate(closes):
        open_ = closes[i - 1] if i else close
        high, low = max(open_, close), min(open_, close)
        ts = T0 + (i + offset) * MINUTE_NS
        lines.append(
            f"{iso(ts)},{open_:.{decimals}f},{high:.{decimals}f},{low:.{decimals}f},"
            f"{close:.{decimals}f},1000000"
        )
    path = tmp / f"{name}.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


MARKET = {
    USDJPY: (_walk(1, 150.0, 0.05, 3), 3),
    EURUSD: (_walk(2, 1.08, 0.0004, 5), 5),
    TOYOTA: (_walk(3, 3000.0, 4.0, 0), 0),
    NIY: (_walk(4, 33_000.0, 30.0, 0, tick=5.0), 0),
}


def _add(desk: Platform, tmp: Path, instrument_id: str, spec: InstrumentSpec) -> None:
    desk.instruments.add(spec)
    closes, decimals = MARKET[instrument_id]
    path = _write(tmp, instrument_id.replace("/", "").replace(".", "-"), closes, decimals)
    desk.ingest.ingest_bars(path, instrument_id, SPEC)


def _fx(instrument_id: str, base: str, quote: str, tick: str) -> InstrumentSpec:
    return InstrumentSpec(
        instrument_id=instrument_id,
        asset_class=AssetClass.FX,
        currency=quote,
        base_currency=base,
        tick_size=Decimal(tick),
    )


TOYOTA_SPEC = InstrumentSpec(
    instrument_id=TOYOTA, asset_class=AssetClass.EQUITY, currency="JPY", tick_size=Decimal(1)
)
NIY_SPEC = InstrumentSpec.model_validate(
    {
        "instrument_id": NIY,
        "asset_class": "future",
        "underlying": "NIY",
        "underlying_class": "index",
        "currency": "JPY",
        "tick_size": "5",
        "multiplier": "500",
        "activation_ns": "2023-03-10T06:30:00Z",
        "expiration_ns": "2024-03-07T14:30:00Z",
        "margin_init": "0.06",
        "margin_maint": "0.055",
    }
)


@pytest.fixture
def fx_desk(desk: Platform, tmp_path: Path) -> Platform:
    _add(desk, tmp_path, USDJPY, _fx(USDJPY, "USD", "JPY", "0.001"))
    _add(desk, tmp_path, EURUSD, _fx(EURUSD, "EUR", "USD", "0.00001"))
    _add(desk, tmp_path, TOYOTA, TOYOTA_SPEC)
    _add(desk, tmp_path, NIY, NIY_SPEC)
    return desk


def _venues(*names: str, **extra: Any) -> list[dict[str, Any]]:
    return [
        {"name": n, "liquidity": "unlimited", "taker_fee": TAKER, "starting_balance": "500000"}
        | extra
        for n in names
    ]


def _plan(
    instruments: Sequence[str],
    venues: list[dict[str, Any]],
    sizes: dict[str, int] | None = None,
    **extra: Any,
) -> Any:
    specs = []
    for instrument_id in instruments:
        size = (sizes or SIZES).get(instrument_id, SIZES[instrument_id])
        params = {"fast": 5, "slow": 20, "trade_size": size, **extra}
        specs += ema_specs([instrument_id], SPEC, params)
    return raw_plan(
        specs,
        instruments=list(instruments),
        bar_spec=SPEC,
        venues=venues,
        flat_at_end=True,
        engine={"log_level": "OFF"},
    )


# the independent conversion --------------------------------------------------------------


def _usd_per_jpy() -> pd.Series:
    closes, _ = MARKET[USDJPY]
    index = [T0 + i * MINUTE_NS for i in range(BARS)]
    return pd.Series([1.0 / c for c in closes], index=index)


def _rate(currency: str, ts: pd.Series) -> np.ndarray:
    if currency == "USD":
        return np.ones(len(ts))
    series = _usd_per_jpy()
    where = series.index.searchsorted(ts.to_numpy(), side="right") - 1
    assert (where >= 0).all()
    return series.to_numpy()[where]


def _booked(fills: pd.DataFrame, currency_of: dict[str, str]) -> tuple[pd.DataFrame, list]:
    """The fills in time order with what each books into the account in USD (``flow``:
    realised PnL at the fill's rate less the commission at its currency's), and the open
    (quantity, average price) of every position after each fill (average cost)."""
    fills = fills.sort_values("ts_ns", kind="stable").reset_index(drop=True)
    fills["rate"] = _rate_per_row(fills, currency_of, "instrument_id")
    fills["commission_rate"] = _rate_per_row(fills, currency_of, "commission_currency")
    realised, states = [], []
    book: dict[str, tuple[float, float]] = {}
    for row in fills.itertuples():
        qty, avg = book.get(row.position_id, (0.0, 0.0))
        signed = row.side * row.quantity
        pnl = 0.0
        multiplier = MULTIPLIER.get(row.instrument_id, 1.0)
        if qty == 0 or np.sign(qty) == np.sign(signed):
            avg = (abs(qty) * avg + row.quantity * row.price) / (abs(qty) + row.quantity)
            qty += signed
        else:
            closing = min(abs(qty), row.quantity)
            pnl = closing * (row.price - avg) * np.sign(qty) * multiplier
            qty += signed
            if abs(qty) < 1e-9:
                qty, avg = 0.0, 0.0
            elif np.sign(qty) == np.sign(signed):
                avg = row.price
        book[row.position_id] = (qty, avg)
        realised.append(pnl)
        states.append(dict(book))
    fills["flow"] = (
        np.array(realised) * fills["rate"] - fills["commission"] * fills["commission_rate"]
    )
    return fills, states


def _expected_curve(
    fills: pd.DataFrame, currency_of: dict[str, str], start: float = 2 * BALANCE
) -> pd.Series:
    """Equity at every bar close: realised PnL and commissions booked at the fill's rate,
    open positions marked at each point's close and rate."""
    points = sorted({T0 + i * MINUTE_NS for i in range(BARS)})
    fills, states = _booked(fills, currency_of)
    equity = []
    closes = {
        i: pd.Series(MARKET[i][0], index=[T0 + k * MINUTE_NS for k in range(BARS)]) for i in MARKET
    }
    instrument_of = dict(zip(fills["position_id"], fills["instrument_id"], strict=False))
    for t in points:
        done = fills[fills["ts_ns"] <= t]
        value = start + float(done["flow"].sum())
        if len(done):
            for position_id, (qty, avg) in states[done.index[-1]].items():
                if qty == 0:
                    continue
                instrument_id = instrument_of[position_id]
                close = float(closes[instrument_id].loc[:t].iloc[-1])
                rate = _rate(currency_of[instrument_id], pd.Series([t]))[0]
                value += qty * (close - avg) * MULTIPLIER.get(instrument_id, 1.0) * rate
        equity.append(value)
    return pd.Series(equity, index=points)


def _rate_per_row(fills: pd.DataFrame, currency_of: dict[str, str], column: str) -> np.ndarray:
    currencies = (
        fills[column].map(currency_of) if column == "instrument_id" else fills[column]
    ).replace("", "USD")
    out = np.ones(len(fills))
    for currency in currencies.unique():
        mine = (currencies == currency).to_numpy()
        out[mine] = _rate(currency, fills.loc[mine, "ts_ns"])
    return out


def _fills_frame(desk: Platform, result: BacktestResult) -> pd.DataFrame:
    fills = desk.backtests.artifacts(result.run_id).fills
    return pd.DataFrame([vars(f) if hasattr(f, "__dict__") else _row(f) for f in fills])


def _row(fill: Any) -> dict[str, Any]:
    return {name: getattr(fill, name) for name in fill.__slots__}


# tests ------------------------------------------------------------------------------------


def test_usd_account_trades_jpy_and_eur_instruments_at_the_catalogs_rates(
    fx_desk: Platform,
) -> None:
    plan = _plan([USDJPY, EURUSD, TOYOTA, NIY], _venues("SIM", "XTKS", "XCME"))
    result = fx_desk.backtests.run_plan(plan)
    assert result.warnings == []
    fills = _fills_frame(fx_desk, result)
    assert set(fills["instrument_id"]) == {USDJPY, EURUSD, TOYOTA, NIY}
    assert set(fills["commission_currency"]) == {"JPY", "USD"}
    currency_of = {USDJPY: "JPY", EURUSD: "USD", TOYOTA: "JPY", NIY: "JPY"}

    # the conversion record: USD/JPY's own streamed bars, inverted, over the run
    (conversion,) = result.conversions
    assert (conversion.currency, conversion.base_currency) == ("JPY", "USD")
    assert conversion.bar_type == f"{USDJPY}-{SPEC}-EXTERNAL" and conversion.inverted
    assert sorted(conversion.instruments) == sorted([TOYOTA, NIY, USDJPY])
    assert conversion.points == BARS
    assert conversion.first_rate == 1.0 / MARKET[USDJPY][0][0]
    assert conversion.last_rate == 1.0 / MARKET[USDJPY][0][-1]
    assert conversion.fills == int(fills["instrument_id"].isin([USDJPY, TOYOTA, NIY]).sum())

    # each fill records the rate its account converted it at: the last close at or before it
    expected_rate = _rate_per_row(fills, currency_of, "instrument_id")
    np.testing.assert_array_equal(fills["quote_rate"].to_numpy(), expected_rate)

    curve = fx_desk.backtests.artifacts(result.run_id).curve
    expected = _expected_curve(fills, currency_of, 3 * BALANCE)
    assert list(curve.ts_ns) == list(expected.index)
    np.testing.assert_allclose(curve.equity, expected.to_numpy(), rtol=1e-9, atol=0.0)
    assert result.metrics.end_equity == pytest.approx(float(expected.iloc[-1]), rel=1e-12)
    report = fx_desk.backtests.report_file(result.run_id).read_text()
    assert f"JPY &rarr; USD at <code>{conversion.bar_type}</code> (inverted)" in report


def test_engine_balance_books_the_same_converted_flows(fx_desk: Platform) -> None:
    plan = _plan([USDJPY, TOYOTA, NIY], _venues("SIM", "XTKS", "XCME"))
    catalog = ParquetCatalog(fx_desk.home / "catalog")
    pinned = pin_range(plan, catalog)
    engine_run = NautilusBacktestRunner(catalog).run(pinned)
    fills = pd.DataFrame([_row(f) for f in engine_run.fills])
    assert len(fills) > 10
    booked, _ = _booked(fills, {USDJPY: "JPY", TOYOTA: "JPY", NIY: "JPY"})
    # the margin account's balance holds realised flows only; Money rounds each fill's JPY
    # amounts to the yen and the USD ones to the cent
    assert engine_run.balances["USD"] == pytest.approx(
        3 * BALANCE + float(booked["flow"].sum()), abs=0.02 * len(fills)
    )


def test_a_rate_series_the_run_does_not_trade_is_read_beside_it(
    desk: Platform, tmp_path: Path
) -> None:
    _add(desk, tmp_path, USDJPY, _fx(USDJPY, "USD", "JPY", "0.001"))
    _add(desk, tmp_path, TOYOTA, TOYOTA_SPEC)
    result = desk.backtests.run_plan(_plan([TOYOTA], _venues("XTKS")))
    assert result.warnings == []
    (conversion,) = result.conversions
    assert conversion.bar_type == f"{USDJPY}-{SPEC}-EXTERNAL" and conversion.instruments == [TOYOTA]
    rate_data = [d for d in result.data if d.purpose == "rate"]
    assert [d.bar_type for d in rate_data] == [conversion.bar_type]
    assert rate_data[0].file_sha256 and result.facts.bars == BARS  # streamed: Toyota's only
    report = desk.backtests.report_file(result.run_id).read_text()
    assert f"<code>{conversion.bar_type}</code> (rate)" in report
    fills = _fills_frame(desk, result)
    expected = _expected_curve(fills, {TOYOTA: "JPY"}, BALANCE)
    curve = desk.backtests.artifacts(result.run_id).curve
    np.testing.assert_allclose(curve.equity, expected.to_numpy(), rtol=1e-9, atol=0.0)


def test_a_missing_rate_is_refused_before_the_run(desk: Platform, tmp_path: Path) -> None:
    _add(desk, tmp_path, TOYOTA, TOYOTA_SPEC)
    _add(desk, tmp_path, EURUSD, _fx(EURUSD, "EUR", "USD", "0.00001"))
    with pytest.raises(InvalidInputError) as raised:
        desk.backtests.run_plan(_plan([TOYOTA], _venues("XTKS")))
    message = raised.value.message
    assert message.startswith("JPY-quoted 7203.XTKS needs a USD/JPY or JPY/USD rate")
    assert "it holds FX bars of EUR/USD.SIM" in message
    assert "USD/JPY" in (raised.value.hint or "")


def test_a_cash_account_books_yen_cash_flows_at_the_fills_rates(fx_desk: Platform) -> None:
    """The engine's USD cash account pays a yen buy in dollars at the fill's rate (checked:
    its balance is the converted cash flows); the curve marks the holding's whole value at
    each point's rate. The cash check converts the buy's cost: unconverted, 6M yen against
    500,000 dollars, every buy was denied."""
    plan = _plan([TOYOTA], _venues("XTKS", account_type="CASH"), long_only=True)
    catalog = ParquetCatalog(fx_desk.home / "catalog")
    engine_run = NautilusBacktestRunner(catalog).run(pin_range(plan, catalog))
    fills = pd.DataFrame([_row(f) for f in engine_run.fills])
    assert len(fills) > 4 and set(fills["side"]) == {1, -1}
    rate = _rate("JPY", fills["ts_ns"])
    flows = (-fills["side"] * fills["quantity"] * fills["price"] - fills["commission"]) * rate
    assert engine_run.balances["USD"] == pytest.approx(
        BALANCE + float(flows.sum()), abs=0.02 * len(fills)
    )

    result = fx_desk.backtests.run_plan(plan)
    assert result.warnings == [] and result.conversions[0].fills == len(fills)
    curve = fx_desk.backtests.artifacts(result.run_id).curve
    points = np.array([T0 + i * MINUTE_NS for i in range(BARS)])
    closes = np.array(MARKET[TOYOTA][0])
    point_rates = _rate("JPY", pd.Series(points))
    expected = []
    for t, close, point_rate in zip(points, closes, point_rates, strict=True):
        done = (fills["ts_ns"] <= t).to_numpy()
        held = float((fills["side"] * fills["quantity"])[done].sum())
        expected.append(BALANCE + float(flows[done].sum()) + held * close * point_rate)
    np.testing.assert_allclose(curve.equity, expected, rtol=1e-9, atol=0.0)


def test_the_margin_check_values_a_yen_order_in_dollars(fx_desk: Platform) -> None:
    """20,000 shares near 3,000 yen are 60M yen but about 400,000 dollars: within a
    500,000-dollar account at leverage 1 (compared unconverted, every order was denied);
    30,000 shares (about 600,000 dollars) are not."""
    result = fx_desk.backtests.run_plan(_plan([TOYOTA], _venues("XTKS"), {TOYOTA: 20_000}))
    assert result.engine_rejections == [] and result.facts.fills > 0
    with pytest.raises(InvalidInputError) as raised:
        fx_desk.backtests.run_plan(_plan([TOYOTA], _venues("XTKS"), {TOYOTA: 30_000}))
    assert "INSUFFICIENT_MARGIN" in str(raised.value)
    assert "exceeds equity 500,000.00 USD" in str(raised.value)
