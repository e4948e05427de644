"""Regime switching on a real engine: regimes from signals (and from volatility) switch the
sub-logic, positions are what an independent pandas replay of the rules says after every bar,
and every order carries the regime signal it was taken under."""

import json
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pytest

from quantdesk.bootstrap import bootstrap
from quantdesk.domain.backtest_records import FillRecord
from quantdesk.services.platform import Platform
from quantdesk.services.synthetic import DEFAULT_START_NS, SyntheticMarketConfig, generate_market
from support.golden import orders_hash
from support.signals import raw_signal
from support.strategy_runs import family_spec, run_specs

MARKET = SyntheticMarketConfig(instruments=1, days=2, seed=4)
IID = "SYN01.SIM"
MINUTE = 60_000_000_000
FAST, SLOW, LOOKBACK, ENTRY = 10, 50, 30, 1.5
# (minute after which the signal is known, label, confidence): trending, ranging, a weak
# quiet one (ignored), an unknown label (neither: flat), the built-in model's labels
TIMELINE = [
    (200, "trending", 0.9),
    (700, "ranging", 0.9),
    (1100, "bull_quiet", 0.3),
    (1400, "sideways", 0.9),
    (1700, "bull_volatile", 0.8),
    (2300, "bear_quiet", 0.7),
]
MAPPED = {"trending": 1, "bull_volatile": 1, "ranging": 2, "bear_quiet": 2, "bull_quiet": 2}


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Platform:
    home = tmp_path_factory.mktemp("regime") / "home"
    made = bootstrap(home=home)
    made.synthetic.synthesize(MARKET)
    lines = []
    for minute, label, confidence in TIMELINE:
        others = "other" if label != "other" else "rest"
        record = raw_signal(
            signal_type="REGIME_PREDICTION",
            instrument_id=IID,
            ts_event=DEFAULT_START_NS + minute * MINUTE,
            lag_ns=30_000_000_000,  # known half-way to the next bar
            confidence=confidence,
            value={"label": label, "probabilities": {label: confidence, others: 1 - confidence}},
        )
        lines.append(json.dumps(record))
    path = home.parent / "regimes.jsonl"
    path.write_text("\n".join(lines) + "\n")
    made.signals.ingest_file(path)
    return made


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    series = generate_market(MARKET)[0].bars
    return pd.DataFrame({"close": series.close}, index=pd.Index(series.ts_ns, name="ts"))


def run(desk: Platform, **parameters: Any) -> tuple[list[FillRecord], Any]:
    config = {
        "instrument_ids": [IID],
        "order_id_tag": "f3test",
        "trend_fast_period": FAST,
        "trend_slow_period": SLOW,
        "reversion_lookback": LOOKBACK,
        "reversion_entry_zscore": ENTRY,
        "trade_size": "100",
        **parameters,
    }
    result = run_specs(
        desk,
        [family_spec("regime_switching", "RegimeSwitching", config)],
        instruments=[IID],
        signals=["REGIME_PREDICTION"],
        risk={"constraints": {"RegimeSwitching-f3test": {"max_position": "100"}}},
    )
    return list(desk.backtests.artifacts(result.run_id).fills), result


def expected_positions(
    closes: pd.Series, regimes: Sequence[int], *, decide_on_change: bool
) -> np.ndarray:
    """The rules replayed bar by bar: 0 neither, 1 trending (EMA sign), 2 ranging (z fade).
    ``decide_on_change``: the regime changed before the bar (a signal), so the new sub-logic
    decides on it; else (volatility) the change bar only closes."""
    fast = closes.ewm(span=FAST, adjust=False).mean().to_numpy()
    slow = closes.ewm(span=SLOW, adjust=False).mean().to_numpy()
    mean = closes.rolling(LOOKBACK).mean().to_numpy()
    std = closes.rolling(LOOKBACK).std(ddof=0).to_numpy()
    held, out, previous = 0, [], 0
    for i, regime in enumerate(regimes):
        if regime != previous:
            held = 0  # the old sub-logic's position is closed on the change
            previous = regime
            if not decide_on_change:
                out.append(0)
                continue
        if regime == 0:
            held = 0
        elif regime == 1 and i >= SLOW - 1 and fast[i] != slow[i]:
            held = 1 if fast[i] > slow[i] else -1
        elif regime == 2 and i >= LOOKBACK - 1 and std[i] > 0:
            z = (closes.iloc[i] - mean[i]) / std[i]
            if (held > 0 and z >= -1e-9) or (held < 0 and z <= 1e-9):  # |z| < 1e-9 is the mean
                held = 0
            elif held == 0 and z >= ENTRY:
                held = -1
            elif held == 0 and z <= -ENTRY:
                held = 1
        out.append(held * 100)
    return np.array(out, dtype=float)


def held_after_each_bar(fills: Iterable[FillRecord], ts: pd.Index) -> np.ndarray:
    signed = pd.Series(
        [f.side * f.quantity for f in fills], index=[f.ts_ns for f in fills], dtype=float
    )
    cumulative = signed.groupby(level=0).sum().cumsum()
    return cumulative.reindex(cumulative.index.union(ts)).ffill().fillna(0.0).reindex(ts).to_numpy()


def signal_regimes(ts: pd.Index) -> list[int]:
    """Per bar: the regime of the last confident signal known before it."""
    regimes = []
    confident = [(m, label) for m, label, confidence in TIMELINE if confidence >= 0.6]
    for t in ts:
        known = [(m, label) for m, label in confident if DEFAULT_START_NS + m * MINUTE + 30e9 < t]
        regimes.append(MAPPED.get(known[-1][1], 0) if known else 0)
    return regimes


def test_signal_regimes_switch_the_sub_logic(desk: Platform, bars: pd.DataFrame) -> None:
    fills, _ = run(desk)
    regimes = signal_regimes(bars.index)
    got = held_after_each_bar(fills, bars.index)
    expected = expected_positions(bars.close, regimes, decide_on_change=True)
    mismatches = np.flatnonzero(got != expected)
    assert mismatches.size == 0, (mismatches[:5], got[mismatches[:5]], expected[mismatches[:5]])
    assert {1, 2, 0} <= set(regimes)
    for regime in (1, 2):  # both sub-logics traded
        assert np.any(expected[np.array(regimes) == regime] != 0)
    assert np.abs(got).max() <= 100  # the strategy's max_position


def test_every_order_carries_the_regime_signal_it_was_taken_under(
    desk: Platform, bars: pd.DataFrame
) -> None:
    fills, result = run(desk)
    assert result.provenance is not None
    confident = {DEFAULT_START_NS + (m * 60 + 30) * 10**9 for m, _, c in TIMELINE if c >= 0.6}
    by_minute = {t.ts_init: t.signal_id for t in result.provenance.traces if t.ts_init in confident}
    assert len(by_minute) == 5
    assert fills and all(f.signal_id is not None for f in fills)
    known = sorted(by_minute)
    for fill in fills:  # the last confident signal known before the fill
        before = [ts for ts in known if ts <= fill.ts_ns]  # an exit fills at the signal
        assert fill.signal_id == by_minute[before[-1]]
    # all six reached the strategy; the weak one was not acted on
    assert (result.provenance.signals_consumed, result.provenance.signals_acted_on) == (6, 5)
    assert orders_hash(fills) == GOLDEN_SIGNAL


def test_volatility_regimes_follow_rv_against_its_median(
    desk: Platform, bars: pd.DataFrame
) -> None:
    lookback = 60
    fills, _ = run(desk, regime_source="volatility", volatility_lookback=lookback)
    r = np.diff(np.log(bars.close.to_numpy()))
    rv = np.sqrt(np.convolve(r * r, np.ones(lookback), "valid") / lookback)
    regimes = [0] * len(bars)
    for j in range(lookback - 1, len(rv)):
        regimes[j + lookback] = 1 if rv[j] > np.median(rv[: j + 1]) else 2
    got = held_after_each_bar(fills, bars.index)
    expected = expected_positions(bars.close, regimes, decide_on_change=False)
    mismatches = np.flatnonzero(got != expected)
    assert mismatches.size == 0, (mismatches[:5], got[mismatches[:5]], expected[mismatches[:5]])
    assert all(f.signal_id is None for f in fills)
    assert len(fills) > 10


GOLDEN_SIGNAL = "22573702bf38cb906f9b1cd5197e092f9aa43efb6c361ea6c7ead8cef4282868"
