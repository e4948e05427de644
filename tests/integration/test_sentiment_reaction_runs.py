"""Sentiment reaction on a real engine: a designed day of SENTIMENT signals against an
independent replay of the registry's rule (entry/exit thresholds, min confidence, max holding
bars); every order carries the id of the signal it was taken on."""

import json
from collections.abc import Iterable
from typing import Any

import pandas as pd
import pytest

from quantdesk.bootstrap import bootstrap
from quantdesk.domain.backtest_records import FillRecord
from quantdesk.services.platform import Platform
from quantdesk.services.synthetic import DEFAULT_START_NS, SyntheticMarketConfig
from support.golden import orders_hash
from support.signals import raw_signal
from support.strategy_runs import family_spec, run_specs

MARKET = SyntheticMarketConfig(instruments=2, days=1, seed=4)
IID, OTHER = "SYN01.SIM", "SYN02.SIM"
MINUTE = 60_000_000_000
LAG = 30_000_000_000  # known half-way to the next bar
ENTRY, EXIT, CONFIDENCE, HOLD = 0.5, 0.1, 0.6, 60
# (minute, score, confidence, instrument)
TIMELINE = [
    (100, 0.7, 0.9, IID),  # long
    (130, 0.3, 0.9, IID),  # between the thresholds: nothing
    (150, 0.6, 0.9, IID),  # the side held: re-arms the holding period
    (170, -0.9, 0.9, OTHER),  # another instrument's news: not ours
    (200, 0.05, 0.9, IID),  # close
    (300, -0.8, 0.4, IID),  # not confident enough: ignored
    (400, -0.8, 0.9, IID),  # short, then out after HOLD bars
    (600, 0.9, 0.8, IID),  # long
    (620, -0.7, 0.8, IID),  # flip: close, then short (two orders on this signal)
    (700, 0.0, 0.9, IID),  # close
    (800, 0.5, 0.6, IID),  # thresholds are inclusive: long, then out after HOLD bars
]


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> tuple[Platform, list[str]]:
    home = tmp_path_factory.mktemp("sentiment") / "home"
    desk = bootstrap(home=home)
    desk.synthetic.synthesize(MARKET)
    records = [
        raw_signal(
            signal_type="SENTIMENT",
            instrument_id=instrument,
            ts_event=DEFAULT_START_NS + minute * MINUTE,
            lag_ns=LAG,
            confidence=confidence,
            value={"score": score},
        )
        for minute, score, confidence, instrument in TIMELINE
    ]
    path = home.parent / "sentiment.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    desk.signals.ingest_file(path)
    return desk, [r["signal_id"] for r in records]


def run(desk: Platform) -> tuple[list[FillRecord], Any]:
    config = {
        "instrument_ids": [IID],
        "order_id_tag": "f3test",
        "entry_threshold": ENTRY,
        "exit_threshold": EXIT,
        "min_confidence": CONFIDENCE,
        "max_holding_bars": HOLD,
        "trade_size": "100",
    }
    result = run_specs(
        desk,
        [family_spec("sentiment_reaction", "SentimentReaction", config)],
        instruments=[IID, OTHER],
        signals=["SENTIMENT"],
        risk={"constraints": {"SentimentReaction-f3test": {"max_position": "100"}}},
    )
    return list(desk.backtests.artifacts(result.run_id).fills), result


def replay(ids: list[str]) -> list[tuple[int, int, str]]:
    """The rule replayed over bars and signals in time order: (ts, side, signal id) per order."""
    signals = {
        DEFAULT_START_NS + m * MINUTE + LAG: (score, conf, sid)
        for (m, score, conf, instrument), sid in zip(TIMELINE, ids, strict=True)
        if instrument == IID
    }
    bars = [DEFAULT_START_NS + k * MINUTE for k in range(1, 1441)]
    orders: list[tuple[int, int, str]] = []
    held, age, armed = 0, 0, ""
    for ts in sorted([*signals, *bars]):
        if ts in signals:
            score, conf, sid = signals[ts]
            if conf < CONFIDENCE:
                continue
            want = (
                (1 if score > 0 else -1)
                if abs(score) >= ENTRY
                else 0
                if abs(score) <= EXIT
                else None
            )
            if want is None or (want == 0 and held == 0):
                continue
            if want == held:
                age, armed = 0, sid
                continue
            if held != 0:
                orders.append((ts, -held, sid))
            if want != 0:
                orders.append((ts, want, sid))
            held, age, armed = want, 0, sid
        elif held != 0:
            age += 1
            if age >= HOLD:
                orders.append((ts, -held, armed))
                held = 0
    return orders


def by_order(fills: Iterable[FillRecord]) -> list[tuple[int, int, str | None]]:
    frame = pd.DataFrame(
        [(f.order_id, f.ts_ns, f.side, f.quantity, f.signal_id) for f in fills],
        columns=["order", "ts", "side", "qty", "signal"],
    )
    grouped = frame.groupby("order", sort=False).agg(
        ts=("ts", "min"), side=("side", "first"), qty=("qty", "sum"), signal=("signal", "first")
    )
    assert (grouped.qty == 100).all()
    return list(zip(grouped.ts, grouped.side, grouped.signal, strict=True))


def test_orders_follow_the_rule_and_carry_their_signal(
    market: tuple[Platform, list[str]],
) -> None:
    desk, ids = market
    fills, result = run(desk)
    expected = replay(ids)
    assert by_order(fills) == expected
    assert len(expected) == 10  # entries, a re-arm, exits, two time-outs and a two-order flip
    assert {f.instrument_id for f in fills} == {IID}
    assert all(f.signal_id is not None for f in fills)
    assert result.provenance is not None and result.provenance.fills_without_signal == 0
    assert orders_hash(fills) == GOLDEN


GOLDEN = "00a51370389b686505c11a5ef51e9d5ad3e3ba8a39fb83a78ce58d3c98096049"
