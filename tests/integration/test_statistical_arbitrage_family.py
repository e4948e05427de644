"""The statistical arbitrage family on the real engine (Property 11: the pair holds the legs
its spread rule says at every timestamp, checked against an independent numpy computation;
both legs enter and exit together in the hedge ratio; risk constraints hold; correlation
breaks close the spread; a golden master pins its orders)."""

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from quantdesk.bootstrap import bootstrap
from quantdesk.domain.backtest import BacktestResult
from quantdesk.services.platform import Platform
from quantdesk.services.synthetic import SyntheticMarketConfig, generate_market
from support.family_markets import GAPPED, gapped_market, joined_closes, orders_digest, positions
from support.signals import raw_signal
from support.strategy_runs import family_spec, run_specs

PAIR = ["SYN01.SIM", "SYN02.SIM"]
LOOKBACK = 120
SIZE = 100
SEED = 5
SECOND_NS = 1_000_000_000


def spread_stats(closes: pd.DataFrame, fixed: float | None = None) -> tuple[Any, Any]:
    """(beta, z) per joined timestamp, NaN before the first full window, re-derived with
    ``np.polyfit``: z of the last spread ``y - beta x`` within its window."""
    ys, xs = closes.iloc[:, 0].to_numpy(), closes.iloc[:, 1].to_numpy()
    betas, zs = np.full(len(closes), np.nan), np.full(len(closes), np.nan)
    for t in range(LOOKBACK - 1, len(closes)):
        wy, wx = ys[t - LOOKBACK + 1 : t + 1], xs[t - LOOKBACK + 1 : t + 1]
        beta = fixed if fixed is not None else float(np.polyfit(wx, wy, 1)[0])
        spread = wy - beta * wx
        betas[t], zs[t] = beta, (spread[-1] - spread.mean()) / spread.std()
    return betas, zs


def expected_legs(
    closes: pd.DataFrame,
    *,
    fixed: float | None = None,
    breaks: Sequence[int] = (),
    pause: int = LOOKBACK,
    stats: tuple[Any, Any] | None = None,
) -> pd.DataFrame:
    """(y, x) positions after every joined timestamp from the first full window on.

    Flat and ``|z| >= 2`` opens (short the spread at +z), ``|z| <= 0.5`` closes; the x leg is
    ``round(SIZE * beta)``; a break (a signal's time) closes and pauses entries for ``pause``
    timestamps.
    """
    betas, zs = stats if stats is not None else spread_stats(closes, fixed)
    times = closes.index.to_numpy()
    pending = sorted(breaks)
    held, legs, paused_through = 0, (0.0, 0.0), -1
    rows = []
    for t in range(len(closes)):
        while pending and pending[0] < times[t]:
            pending.pop(0)
            held, legs, paused_through = 0, (0.0, 0.0), t + pause
        if t < LOOKBACK - 1:
            continue
        beta, z = betas[t], zs[t]
        if held == 0 and abs(z) >= 2.0 and t + 1 > paused_through:
            x_quantity = round(SIZE * beta) if beta > 0 else 0
            if x_quantity > 0:
                held = -1 if z > 0 else 1
                legs = (float(held * SIZE), float(-held * x_quantity))
        elif held != 0 and abs(z) <= 0.5:
            held, legs = 0, (0.0, 0.0)
        rows.append((times[t], *legs))
    frame = pd.DataFrame(rows, columns=["ts", *closes.columns]).set_index("ts")
    frame.index.name = None
    return frame


def synthetic_closes() -> pd.DataFrame:
    """SYN01/SYN02 closes of the fixture's market, straight from the generator."""
    market = generate_market(SyntheticMarketConfig(instruments=3, days=3, seed=SEED))
    return pd.DataFrame(
        {s.instrument.instrument_id: s.bars.close for s in market[:2]},
        index=market[0].bars.ts_ns,
    )


def break_time() -> int:
    """30 s after a bar at which the signal-free rule holds a spread, and where pausing
    entries matters to the bar (a pause one bar shorter would re-enter on its last bar)."""
    closes = synthetic_closes()
    stats = spread_stats(closes)
    legs = expected_legs(closes, stats=stats)
    held = legs.iloc[:, 0].to_numpy() != 0
    for t in range(600, len(held) - 3):
        if held[t : t + 4].all():
            at = int(legs.index[t]) + 30 * SECOND_NS
            paused = expected_legs(closes, breaks=[at], stats=stats)
            shorter = expected_legs(closes, breaks=[at], pause=LOOKBACK - 1, stats=stats)
            if not paused.equals(shorter):
                return at
    raise AssertionError("no spread held long enough in the synthetic market")


@pytest.fixture(scope="module")
def break_at() -> int:
    return break_time()


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory, break_at: int) -> Path:
    base = tmp_path_factory.mktemp("pairs")
    home = base / "home"
    gapped_market(home, seed=SEED)
    at = break_at

    def shift(instrument: str, other: str, change: float, ts: int) -> str:
        value = {"other_instrument_id": other, "change": change, "correlation": 0.1}
        return json.dumps(raw_signal("CORRELATION_SHIFT", instrument, ts, lag_ns=0, value=value))

    lines = [
        shift("SYN02.SIM", "SYN01.SIM", -0.8, at),  # the pair, the other way round: a break
        shift("SYN01.SIM", "SYN02.SIM", 0.3, at - 200 * 60 * SECOND_NS),  # too small
        shift("SYN01.SIM", "SYN03.SIM", -0.9, at - 100 * 60 * SECOND_NS),  # another pair
    ]
    signals = base / "signals.jsonl"
    signals.write_text("\n".join(lines) + "\n")
    bootstrap(home=home).signals.ingest_file(signals)
    return home


@pytest.fixture
def desk(market: Path) -> Platform:
    return bootstrap(home=market)


def trade_pair(
    desk: Platform,
    instruments: list[str],
    *,
    risk: dict[str, Any] | None = None,
    signals: list[str] | None = None,
    **parameters: object,
) -> BacktestResult:
    config = {
        "lookback": LOOKBACK,
        "trade_size": str(SIZE),
        **parameters,
        "instrument_ids": instruments,
        "signal_types": signals or [],
        "order_id_tag": "PAIR",
    }
    spec = family_spec("statistical_arbitrage", "StatisticalArbitrage", config)
    return run_specs(desk, [spec], instruments=instruments, risk=risk, signals=signals or "none")


def held_legs(desk: Platform, result: BacktestResult, instruments: list[str]) -> pd.DataFrame:
    artifacts = desk.backtests.artifacts(result.run_id)
    closes = joined_closes(artifacts, instruments)
    return positions(artifacts.fills, instruments, closes.index)


@pytest.mark.parametrize(
    ("instruments", "fixed"), [(PAIR, None), (PAIR, 1.1), (["SYN01.SIM", GAPPED], None)]
)
def test_legs_match_an_independent_spread_rule(
    desk: Platform, instruments: list[str], fixed: float | None
) -> None:
    hedge: dict[str, Any] = {"hedge_ratio": "fixed", "fixed_hedge_ratio": fixed} if fixed else {}
    result = trade_pair(desk, instruments, **hedge)
    artifacts = desk.backtests.artifacts(result.run_id)
    closes = joined_closes(artifacts, instruments)
    expected = expected_legs(closes, fixed=fixed)
    held = positions(artifacts.fills, instruments, expected.index)
    pd.testing.assert_frame_equal(held, expected, check_names=False)
    assert result.facts.fills >= 20
    # both legs trade at the same timestamps, in opposite directions
    sides: dict[int, dict[str, int]] = {}
    for fill in artifacts.fills:
        sides.setdefault(fill.ts_ns, {})[fill.instrument_id] = fill.side
    assert all(len(legs) == 2 and sum(legs.values()) == 0 for legs in sides.values())
    if GAPPED in instruments:
        assert set(sides) <= set(closes.index.tolist())


def test_a_denied_second_leg_unwinds_the_first(desk: Platform) -> None:
    risk = {"constraints": {"StatisticalArbitrage-PAIR": {"allowed_instruments": ["SYN01.SIM"]}}}
    result = trade_pair(desk, PAIR, risk=risk)
    fills = list(desk.backtests.artifacts(result.run_id).fills)
    assert fills and {f.instrument_id for f in fills} == {"SYN01.SIM"}
    assert result.risk_counts.get("instrument_not_allowed", 0) > 0
    held = held_legs(desk, result, PAIR)
    assert (held.to_numpy() == 0).all()  # never one leg alone at the end of a timestamp
    per_ts: dict[int, float] = {}
    for fill in fills:
        per_ts[fill.ts_ns] = per_ts.get(fill.ts_ns, 0.0) + fill.side * fill.quantity
    assert set(per_ts.values()) == {0.0}


def test_a_denied_first_leg_sends_nothing(desk: Platform) -> None:
    risk = {"constraints": {"StatisticalArbitrage-PAIR": {"allowed_instruments": ["SYN02.SIM"]}}}
    result = trade_pair(desk, PAIR, risk=risk)
    assert list(desk.backtests.artifacts(result.run_id).fills) == []
    assert result.risk_counts.get("instrument_not_allowed", 0) > 0


def test_a_position_limit_on_the_hedge_leg_holds(desk: Platform) -> None:
    risk = {"constraints": {"StatisticalArbitrage-PAIR": {"max_position": "40"}}}
    result = trade_pair(desk, PAIR, risk=risk, hedge_ratio="fixed", fixed_hedge_ratio=0.5)
    held = held_legs(desk, result, PAIR)
    assert (held.abs().to_numpy() <= 40).all()
    assert result.facts.fills > 0


def test_a_correlation_break_closes_the_spread_and_pauses_entries(
    desk: Platform, break_at: int
) -> None:
    result = trade_pair(desk, PAIR, signals=["CORRELATION_SHIFT"])
    artifacts = desk.backtests.artifacts(result.run_id)
    closes = joined_closes(artifacts, PAIR)
    at = break_at
    expected = expected_legs(closes, breaks=[at])
    held = positions(artifacts.fills, PAIR, expected.index)
    pd.testing.assert_frame_equal(held, expected, check_names=False)
    on_signal = [f for f in artifacts.fills if f.signal_id is not None]
    assert {f.instrument_id for f in on_signal} == set(PAIR)
    assert {f.ts_ns for f in on_signal} == {at}
    assert expected_legs(closes).ne(expected).any().any()  # the break did change the run


def test_golden_master(desk: Platform) -> None:
    """A deliberate constant: a change in the pair's orders fails here until updated."""
    result = trade_pair(desk, PAIR)
    fills = desk.backtests.artifacts(result.run_id).fills
    assert orders_digest(fills) == (
        "ed56b5763a39b1283b6664f418a1f2b177c7bc256c5dea88be1f5905c0d89494"
    )


def test_a_hedge_leg_that_rounds_to_zero_skips_the_entry(desk: Platform) -> None:
    """100 x 0.004 = 0.4 units of x rounds to none: the pair is not entered with one leg."""
    result = trade_pair(desk, PAIR, hedge_ratio="fixed", fixed_hedge_ratio=0.004)
    assert list(desk.backtests.artifacts(result.run_id).fills) == []
    wider = trade_pair(desk, PAIR, hedge_ratio="fixed", fixed_hedge_ratio=0.006)
    orders: dict[str, float] = {}
    for fill in desk.backtests.artifacts(wider.run_id).fills:
        orders[fill.order_id] = orders.get(fill.order_id, 0.0) + fill.quantity
    assert set(orders.values()) == {1.0, 100.0}  # 0.6 rounds to one unit
