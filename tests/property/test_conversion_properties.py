"""Property tests of the base-currency conversion against the plain cash-and-mark curve.

The converted path books each fill's realised PnL (average cost, per position) and marks the
open positions' unrealised PnL; the plain path books each fill's cash and marks whole
positions. In exact arithmetic the two are one equity; at a constant rate r and multiplier m
the converted PnL is r * m times the plain PnL of the same fills (commissions in the
converted currency scaled by r). Prices are multiples of 1/64 and quantities of 1/4, so the
plain side is exact; the converted side divides for average prices, hence a tolerance
relative to the traded notional.
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.domain.backtest import FillRecord
from quantdesk.services.performance import build_equity_curve, compute_metrics
from quantdesk.services.valuation import RateSeries, Valuation

MINUTE = 60_000_000_000
INSTRUMENTS = ("AAA.SIM", "BBB.SIM")


@st.composite
def markets(
    draw: st.DrawFn,
) -> tuple[list[FillRecord], dict[str, tuple[np.ndarray, np.ndarray]], float, float]:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_fills = draw(st.integers(1, 120))
    rate = draw(st.sampled_from([1.0, 0.0066, 1.0871, 151.37]))
    multiplier = draw(st.sampled_from([1.0, 50.0, 0.1]))
    closes = {}
    for instrument_id in INSTRUMENTS:
        minutes = np.arange(draw(st.integers(0, 30)), 400, draw(st.sampled_from([1, 5, 15])))
        walk = 64 * 100 + np.cumsum(rng.integers(-64, 65, size=len(minutes)))
        closes[instrument_id] = (minutes.astype(np.int64) * MINUTE, np.maximum(walk, 1) / 64)
    fills = []
    for k in range(n_fills):
        instrument_id = INSTRUMENTS[int(rng.integers(2))]
        bar_ts, bar_close = closes[instrument_id]
        i = int(rng.integers(len(bar_ts)))
        strategy = f"S-{int(rng.integers(2))}"
        fills.append(
            FillRecord(
                ts_ns=int(bar_ts[i]),
                strategy_id=strategy,
                instrument_id=instrument_id,
                order_id=f"O-{k}",
                trade_id=f"T-{k}",
                position_id=f"{instrument_id}-{strategy}",  # several positions an instrument
                side=1 if rng.random() < 0.5 else -1,
                quantity=int(rng.integers(1, 41)) / 4,
                price=max(1, round(bar_close[i] * 64) + int(rng.integers(-8, 9))) / 64,
                commission=int(rng.integers(0, 65)) / 64,
                commission_currency="XXX",
            )
        )
    return fills, closes, rate, multiplier


@settings(max_examples=150, deadline=None)
@given(markets())
def test_converted_pnl_is_the_plain_pnl_times_rate_and_multiplier(
    market: tuple[list[FillRecord], dict[str, tuple[np.ndarray, np.ndarray]], float, float],
) -> None:
    # Property: at a constant rate r and multiplier m, the realised-and-unrealised booking of
    # converted instruments equals r times the cash-and-mark equity of the same fills with
    # prices scaled by m, at every curve point (the engine's margin account and the plain
    # curve are one model).
    fills, closes, rate, multiplier = market
    start = 1_000_000.0
    valuation = Valuation(
        "USD",
        currency={i: "XXX" for i in INSTRUMENTS},
        multiplier={i: multiplier for i in INSTRUMENTS} if multiplier != 1.0 else {},
        rates={"XXX": RateSeries(np.array([0], dtype=np.int64), np.array([rate]))},
    )
    converted = build_equity_curve(fills, closes, start, valuation)
    scaled = [
        FillRecord(
            **{
                **{name: getattr(f, name) for name in FillRecord.__slots__},
                "price": f.price * multiplier,
                "commission_currency": "USD",
            }
        )
        for f in fills
    ]
    scaled_closes = {i: (ts, close * multiplier) for i, (ts, close) in closes.items()}
    plain = build_equity_curve(scaled, scaled_closes, start)
    notional = sum(abs(f.quantity * f.price) for f in scaled) * rate
    np.testing.assert_array_equal(converted.ts_ns, plain.ts_ns)
    np.testing.assert_array_equal(converted.in_market, plain.in_market)
    np.testing.assert_allclose(
        converted.equity - start, (plain.equity - start) * rate, rtol=0, atol=1e-9 * notional
    )
    ours = compute_metrics(converted, [], fills, start, valuation)
    theirs = compute_metrics(plain, [], scaled, start)
    assert np.isclose(ours.fees, theirs.fees * rate, rtol=1e-12)
    assert np.isclose(
        ours.turnover * float(converted.equity.mean()),
        theirs.turnover * float(plain.equity.mean()) * rate,
        rtol=1e-12,
    )
