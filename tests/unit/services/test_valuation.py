"""The equity curve in the base currency: converted instruments against a computation written
here point by point, and the plain path pinned bit for bit (a digest taken before
conversions existed)."""

import hashlib
import math

import numpy as np
import pytest

from quantdesk.domain.backtest import FillRecord, PositionRecord
from quantdesk.domain.errors import InvalidInputError
from quantdesk.services.performance import attribute, build_equity_curve, compute_metrics
from quantdesk.services.valuation import RateSeries, Valuation

MINUTE = 60_000_000_000


def fill(
    ts: int,
    side: int,
    quantity: float,
    price: float,
    instrument: str,
    commission: float = 0.0,
    currency: str = "USD",
    position: str | None = None,
) -> FillRecord:
    return FillRecord(
        ts_ns=ts,
        strategy_id="S-1",
        instrument_id=instrument,
        order_id=f"O-{ts}",
        trade_id=f"T-{ts}-{instrument}",
        position_id=position or f"P-{instrument}",
        side=side,
        quantity=quantity,
        price=price,
        commission=commission,
        commission_currency=currency,
    )


# the plain path, bit for bit --------------------------------------------------------------

# sha256 of (ts, equity, in_market) bytes of the market below, computed by performance.py as
# it was before conversions (main at b9746cd): any change of the plain arithmetic fails here
PLAIN_DIGEST = "ce9ff78a3b0e365372d7e963fe63820d781db3fa60bfc2a14860c198265df73d"
PLAIN_END = 100074.18500450588
PLAIN_TURNOVER = 1.8856984438559756
PLAIN_FEES = 17.529982220652403


def plain_market() -> tuple[list[FillRecord], dict[str, tuple[np.ndarray, np.ndarray]]]:
    rng = np.random.default_rng(20261207)
    closes = {}
    for k, name in enumerate(["A.SIM", "B.SIM", "C.XNAS"]):
        step = (k + 1) * MINUTE
        ts = np.arange(1, 300 // (k + 1) + 1, dtype=np.int64) * step + k
        closes[name] = (ts, 100.0 + np.cumsum(rng.normal(0, 0.37, len(ts))))
    fills = []
    for i in range(240):
        name = ["A.SIM", "B.SIM", "C.XNAS"][i % 3]
        ts = int(rng.integers(MINUTE, 300 * MINUTE))
        fills.append(
            FillRecord(
                ts,
                f"S-{i % 2}",
                name,
                f"O-{i}",
                f"T-{i}",
                f"P-{name}",
                1 if rng.random() < 0.5 else -1,
                float(rng.integers(1, 50)) / 3.0,
                float(100 + rng.normal(0, 1)),
                float(rng.random() / 7),
                "USD",
            )
        )
    return fills, closes


def digest(*arrays: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


@pytest.mark.parametrize(
    "valuation",
    [
        None,
        Valuation("USD"),
        # a rate for a currency no instrument is in changes nothing
        Valuation("USD", rates={"JPY": RateSeries(np.array([0]), np.array([0.0067]))}),
    ],
)
def test_plain_instruments_keep_the_arithmetic_bit_for_bit(valuation: Valuation | None) -> None:
    fills, closes = plain_market()
    curve = build_equity_curve(fills, closes, 100_000.0, valuation)
    assert digest(curve.ts_ns, curve.equity, curve.in_market) == PLAIN_DIGEST
    metrics = compute_metrics(curve, [], fills, 100_000.0, valuation)
    assert (metrics.end_equity, metrics.turnover, metrics.fees) == (
        PLAIN_END,
        PLAIN_TURNOVER,
        PLAIN_FEES,
    )


# converted instruments ---------------------------------------------------------------------

JPY_RATE_TS = np.array([1, 3, 6, 8], dtype=np.int64) * MINUTE
USDJPY_CLOSE = np.array([150.0, 151.5, 149.25, 152.0])  # JPY per USD: a rate is 1 / close


def usd_per_jpy(t: int) -> float:
    """Independent of RateSeries: the last close at or before t, inverted."""
    held = [c for ts, c in zip(JPY_RATE_TS, USDJPY_CLOSE, strict=True) if ts <= t]
    return 1.0 / held[-1]


def test_a_jpy_instrument_and_a_usd_future_mark_and_book_at_their_rates() -> None:
    ts = np.arange(1, 11, dtype=np.int64) * MINUTE
    toyota = 3000.0 + 10.0 * np.arange(10)
    future = 4000.0 - 2.5 * np.arange(10)
    closes = {"T.XTKS": (ts, toyota), "F.CME": (ts, future)}
    fills = [
        fill(2 * MINUTE, 1, 100, 3010.0, "T.XTKS", commission=300.0, currency="JPY"),
        fill(4 * MINUTE, 1, 50, 3030.0, "T.XTKS"),  # adds: average 3016.67
        fill(5 * MINUTE, 1, 2, 3990.0, "F.CME", commission=1.5),
        fill(7 * MINUTE, -1, 200, 3060.0, "T.XTKS", commission=600.0, currency="JPY"),  # flips
        fill(9 * MINUTE, -1, 2, 3980.0, "F.CME"),
        fill(9 * MINUTE, 1, 50, 3080.0, "T.XTKS"),  # covers the short
    ]
    valuation = Valuation(
        "USD",
        currency={"T.XTKS": "JPY"},
        multiplier={"F.CME": 50.0},
        rates={"JPY": RateSeries(JPY_RATE_TS, 1.0 / USDJPY_CLOSE)},
    )
    curve = build_equity_curve(fills, closes, 10_000.0, valuation)

    # worked by hand: Toyota's average cost, the flip, the future's multiplier
    avg = (100 * 3010.0 + 50 * 3030.0) / 150
    flows = {
        2: -300.0 * usd_per_jpy(2 * MINUTE),
        5: -1.5,
        7: (150 * (3060.0 - avg) - 600.0) * usd_per_jpy(7 * MINUTE),
        9: 2 * (3980.0 - 3990.0) * 50 + 50 * (3060.0 - 3080.0) * usd_per_jpy(9 * MINUTE),
    }
    held = {  # (toyota quantity, toyota average, future quantity) from each minute on
        2: (100, 3010.0, 0),
        4: (150, avg, 0),
        5: (150, avg, 2),
        7: (-50, 3060.0, 2),
        9: (0, 0.0, 0),
    }
    expected = []
    state = (0, 0.0, 0)
    booked = 0.0
    for minute in range(1, 11):
        state = held.get(minute, state)
        booked += flows.get(minute, 0.0)
        t = minute * MINUTE
        quantity, average, contracts = state
        value = 10_000.0 + booked
        value += quantity * (toyota[minute - 1] - average) * usd_per_jpy(t) if quantity else 0.0
        value += contracts * (future[minute - 1] - 3990.0) * 50
        expected.append(value)
    np.testing.assert_allclose(curve.equity, expected, rtol=1e-12, atol=0.0)
    assert curve.in_market.tolist() == [False] + [True] * 7 + [False, False]

    metrics = compute_metrics(curve, [], fills, 10_000.0, valuation)
    fees = 300.0 * usd_per_jpy(2 * MINUTE) + 1.5 + 600.0 * usd_per_jpy(7 * MINUTE)
    assert metrics.fees == pytest.approx(fees, rel=1e-12)
    traded = sum(
        f.quantity * f.price * (50.0 if f.instrument_id == "F.CME" else usd_per_jpy(f.ts_ns))
        for f in fills
    )
    assert metrics.turnover == pytest.approx(traded / float(np.mean(expected)), rel=1e-12)


def test_a_usd_jpy_pair_books_its_pnl_in_yen_at_the_fills_rate() -> None:
    ts = JPY_RATE_TS
    closes = {"USD/JPY.SIM": (ts, USDJPY_CLOSE)}
    fills = [
        fill(ts[0], 1, 1000, 150.0, "USD/JPY.SIM"),
        fill(ts[2], -1, 1000, 149.25, "USD/JPY.SIM"),
    ]
    valuation = Valuation(
        "USD",
        currency={"USD/JPY.SIM": "JPY"},
        rates={"JPY": RateSeries(ts, 1.0 / USDJPY_CLOSE)},
    )
    curve = build_equity_curve(fills, closes, 1_000.0, valuation)
    unrealised = 1000 * (151.5 - 150.0) / 151.5
    realised = 1000 * (149.25 - 150.0) / 149.25
    np.testing.assert_allclose(
        curve.equity, [1_000.0, 1_000.0 + unrealised, 1_000.0 + realised, 1_000.0 + realised]
    )


def test_trades_count_at_their_closing_rate_and_attribution_converts_too() -> None:
    ts = JPY_RATE_TS
    valuation = Valuation(
        "USD", currency={"T.XTKS": "JPY"}, rates={"JPY": RateSeries(ts, 1.0 / USDJPY_CLOSE)}
    )
    closes = {"T.XTKS": (ts, np.array([3000.0, 3010.0, 2990.0, 3005.0]))}
    fills = [fill(ts[0], 1, 10, 3000.0, "T.XTKS"), fill(ts[3], -1, 10, 3005.0, "T.XTKS")]
    trade = PositionRecord("S-1", "T.XTKS", "P-T.XTKS", 1, 10, ts[0], ts[3], 3000, 3005, 50.0, 0)
    curve = build_equity_curve(fills, closes, 1_000.0, valuation)
    metrics = compute_metrics(curve, [trade], fills, 1_000.0, valuation)
    assert metrics.avg_win == pytest.approx(50.0 / 152.0, rel=1e-15)
    assert metrics.pnl == pytest.approx(50.0 / 152.0, rel=1e-12)
    (own,) = attribute(fills, [trade], closes, 1_000.0, valuation=valuation)
    assert own.metrics == metrics


def test_a_fill_before_the_first_rate_is_an_error_naming_it() -> None:
    valuation = Valuation(
        "USD",
        currency={"T.XTKS": "JPY"},
        rates={"JPY": RateSeries(JPY_RATE_TS, 1.0 / USDJPY_CLOSE)},
    )
    closes = {"T.XTKS": (JPY_RATE_TS, np.full(4, 3000.0))}
    with pytest.raises(InvalidInputError, match=r"T\.XTKS's fill at .* has no conversion rate"):
        build_equity_curve([fill(MINUTE // 2, 1, 1, 3000.0, "T.XTKS")], closes, 1.0, valuation)


def test_a_currency_without_rates_is_an_error_not_a_zero() -> None:
    valuation = Valuation("USD", currency={"T.XTKS": "JPY"})
    closes = {"T.XTKS": (JPY_RATE_TS, np.full(4, 3000.0))}
    with pytest.raises(InvalidInputError, match="no rate converts JPY into USD"):
        build_equity_curve([fill(MINUTE, 1, 1, 3000.0, "T.XTKS")], closes, 1.0, valuation)


def test_a_round_trip_leaves_no_residue_marked() -> None:
    valuation = Valuation(
        "USD", currency={"T.XTKS": "JPY"}, rates={"JPY": RateSeries(JPY_RATE_TS, 1 / USDJPY_CLOSE)}
    )
    closes = {"T.XTKS": (JPY_RATE_TS, np.array([3000.0, 3100.0, 3200.0, 3300.0]))}
    thirds = [fill(JPY_RATE_TS[0], 1, 0.1, 3000.0, "T.XTKS")] + [
        fill(JPY_RATE_TS[1] + i, -1, 0.1 / 3 if i < 2 else 0.1 - 2 * (0.1 / 3), 3100.0, "T.XTKS")
        for i in range(3)
    ]
    curve = build_equity_curve(thirds, closes, 1.0, valuation)
    assert curve.in_market.tolist() == [True, True, False, False]
    assert math.isclose(curve.equity[3], curve.equity[2], rel_tol=0, abs_tol=0)


def test_offsetting_positions_of_two_strategies_keep_the_pnl_between_their_prices() -> None:
    # found by the conversion property: net flat, yet 10 * (110 - 100) yen are locked in
    valuation = Valuation(
        "USD", currency={"T.XTKS": "JPY"}, rates={"JPY": RateSeries(JPY_RATE_TS, 1 / USDJPY_CLOSE)}
    )
    closes = {"T.XTKS": (JPY_RATE_TS, np.array([100.0, 110.0, 120.0, 130.0]))}
    fills = [
        fill(JPY_RATE_TS[0], 1, 10, 100.0, "T.XTKS", position="P-A"),
        fill(JPY_RATE_TS[1], -1, 10, 110.0, "T.XTKS", position="P-B"),
    ]
    curve = build_equity_curve(fills, closes, 0.0, valuation)
    expected = [0.0] + [100.0 / close for close in USDJPY_CLOSE[1:]]
    np.testing.assert_allclose(curve.equity, expected, rtol=1e-12)
    assert curve.in_market.tolist() == [True, False, False, False]


def test_a_cash_account_books_whole_cash_flows_and_marks_whole_holdings() -> None:
    valuation = Valuation(
        "USD",
        currency={"T.XTKS": "JPY"},
        rates={"JPY": RateSeries(JPY_RATE_TS, 1 / USDJPY_CLOSE)},
        cash=frozenset({"T.XTKS"}),
    )
    closes = {"T.XTKS": (JPY_RATE_TS, np.array([3000.0, 3010.0, 2990.0, 3020.0]))}
    fills = [
        fill(JPY_RATE_TS[0], 1, 100, 3000.0, "T.XTKS", commission=30.0, currency="JPY"),
        fill(JPY_RATE_TS[2], -1, 40, 2990.0, "T.XTKS"),
    ]
    curve = build_equity_curve(fills, closes, 10_000.0, valuation)
    bought = -(100 * 3000.0 + 30.0) / 150.0  # the buy's yen, at 150 yen a dollar
    sold = 40 * 2990.0 / 149.25
    expected = [
        10_000.0 + bought + 100 * 3000.0 / 150.0,
        10_000.0 + bought + 100 * 3010.0 / 151.5,  # the yen's move on the whole holding
        10_000.0 + bought + sold + 60 * 2990.0 / 149.25,
        10_000.0 + bought + sold + 60 * 3020.0 / 152.0,
    ]
    np.testing.assert_allclose(curve.equity, expected, rtol=1e-12)
