"""Signals: the gate rejects exactly the broken ones, the router delivers exactly, loses none."""

import asyncio
import math
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.domain.signal_routing import WILDCARD, SignalEnvelope, Subscription
from quantdesk.domain.signals import AISignal, SignalRejection, SignalRejectReason
from support.signals import INSTRUMENTS, NOW_NS, raw_signal, stack

TYPES = ("SENTIMENT", "REGIME_PREDICTION", "VOLATILITY_FORECAST", "CORRELATION_SHIFT")
MAX_AGE_NS = 600_000_000_000


@st.composite
def valid_raw(draw: st.DrawFn) -> dict[str, Any]:
    signal_type = draw(st.sampled_from(TYPES))
    ts_event = NOW_NS - draw(st.integers(0, 10**13))
    record = raw_signal(
        signal_type,
        draw(st.sampled_from(INSTRUMENTS)),
        ts_event=ts_event,
        lag_ns=draw(st.integers(0, MAX_AGE_NS)),
        confidence=draw(st.floats(0.0, 1.0)),
    )
    if signal_type == "SENTIMENT":
        record["value"] = {"score": draw(st.floats(-1.0, 1.0))}
    elif signal_type == "VOLATILITY_FORECAST":
        record["value"] = {
            "annualized_volatility": draw(st.floats(1e-6, 5.0)),
            "horizon_ns": draw(st.integers(1, 10**15)),
        }
    elif signal_type == "CORRELATION_SHIFT":
        record["value"] = {
            "other_instrument_id": draw(st.sampled_from(INSTRUMENTS)),
            "change": draw(st.floats(-2.0, 2.0)),
        }
    else:
        p = draw(st.floats(0.0, 1.0))
        record["value"] = {"label": "calm", "probabilities": {"calm": p, "storm": 1.0 - p}}
    return record


BREAKS = (
    "unknown_type",
    "bad_confidence",
    "bad_value",
    "future_ts_event",
    "ts_init_before_ts_event",
    "unknown_instrument",
    "duplicate_id",
    "stale",
    "malformed",
    "ts_out_of_range",
)


def _break(draw: st.DrawFn, record: dict[str, Any], rule: str, existing: str) -> None:
    """Break exactly one rule of a valid record."""
    kind = record["signal_type"]
    if rule == "unknown_type":
        record["signal_type"] = draw(st.sampled_from(["", "sentiment?", "NEWS", None, 3]))
    elif rule == "bad_confidence":
        record["confidence"] = draw(
            st.sampled_from([math.nan, -0.01, 1.01, math.inf, "0.5", None, True])
        )
    elif rule == "bad_value":
        record["value"] = {
            "SENTIMENT": {"score": draw(st.sampled_from([1.5, -1.01, math.nan]))},
            "VOLATILITY_FORECAST": {"annualized_volatility": 0.0, "horizon_ns": 1},
            "CORRELATION_SHIFT": {"other_instrument_id": "BTCUSDT.BINANCE", "change": 2.5},
            "REGIME_PREDICTION": {"label": "calm", "probabilities": {"calm": 0.5, "storm": 0.4}},
        }[kind]
    elif rule == "future_ts_event":
        record["ts_event"] = NOW_NS + draw(st.integers(5_000_000_001, 10**12))
        record["ts_init"] = record["ts_event"]
    elif rule == "ts_init_before_ts_event":
        record["ts_init"] = record["ts_event"] - draw(st.integers(1, 10**9))
    elif rule == "unknown_instrument":
        record["instrument_id"] = draw(st.sampled_from(["NOPE.XNAS", "ACME.XNYS"]))
        if kind == "CORRELATION_SHIFT":
            record["value"]["other_instrument_id"] = "ACME.XNAS"
    elif rule == "duplicate_id":
        record["signal_id"] = existing
    elif rule == "stale":
        record["ts_init"] = record["ts_event"] + MAX_AGE_NS + draw(st.integers(1, 10**12))
    elif rule == "ts_out_of_range":
        field = draw(st.sampled_from(["ts_event", "ts_init"]))
        record[field] = draw(st.sampled_from([2**63, 2**63 - 1, 2**64 + 1, -1]))
    elif rule == "malformed":
        field = draw(st.sampled_from(["signal_id", "source_model", "provenance", "ts_event"]))
        if field == "signal_id":
            record["signal_id"] = "not-a-uuid"
        else:
            del record[field]


# Property 21: invalid signals rejected before routing
@settings(max_examples=100, deadline=None)
@given(data=st.data(), valid=valid_raw(), rule=st.sampled_from(BREAKS))
def test_property_21_invalid_signals_rejected_before_routing(
    data: st.DataObject, valid: dict[str, Any], rule: str
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        s = stack(Path(tmp))
        s.gate.declare_producer("test-model", MAX_AGE_NS)
        seen: list[SignalEnvelope] = []
        s.router.subscribe("everything", [(WILDCARD, WILDCARD)])
        consumer = s.router.consumer("everything", seen.append)

        async def scenario() -> None:
            first = await s.router.route(valid)
            assert first.accepted, first.rejection  # every valid one is accepted
            assert isinstance(first.signal, AISignal)
            broken = {**raw_signal(), **valid, "signal_id": raw_signal()["signal_id"]}
            broken["value"] = dict(valid["value"])
            _break(data.draw, broken, rule, existing=valid["signal_id"])
            second = await s.router.route(broken)
            assert not second.accepted
            assert isinstance(second.rejection, SignalRejection)
            assert second.rejection.reason is SignalRejectReason(rule), (rule, second.rejection)
            await consumer.drain()

        asyncio.run(scenario())
        assert [e.signal.signal_id for e in seen] == [valid["signal_id"]]
        assert [x.signal_id for x in s.store.query()] == [valid["signal_id"]]


@st.composite
def routing_case(
    draw: st.DrawFn,
) -> tuple[dict[str, set[tuple[str, str]]], list[dict[str, Any]], dict[tuple[str, int], int]]:
    consumers = [f"strategy-{i}" for i in range(draw(st.integers(1, 5)))]
    pairs = st.tuples(
        st.sampled_from((*TYPES, WILDCARD)), st.sampled_from((*INSTRUMENTS, WILDCARD))
    )
    table = {c: draw(st.sets(pairs, min_size=0, max_size=4)) for c in consumers}
    signals = draw(st.lists(valid_raw(), min_size=1, max_size=25))
    # how many times a consumer's handler fails on the i-th signal before taking it
    failures = draw(
        st.dictionaries(
            st.tuples(st.sampled_from(consumers), st.integers(0, len(signals) - 1)),
            st.integers(1, 4),
            max_size=10,
        )
    )
    return table, signals, failures


# Property 18: signals reach exactly the right strategies
@settings(max_examples=100, deadline=None)
@given(case=routing_case())
def test_property_18_signals_reach_exactly_the_right_strategies(
    case: tuple[dict[str, set[tuple[str, str]]], list[dict[str, Any]], dict[tuple[str, int], int]],
) -> None:
    table, raws, failures = case
    max_attempts = 3
    with tempfile.TemporaryDirectory() as tmp:
        s = stack(Path(tmp), max_attempts=max_attempts)
        index = {r["signal_id"]: i for i, r in enumerate(raws)}
        received: dict[str, list[str]] = {c: [] for c in table}
        tries: Counter[tuple[str, int]] = Counter()

        def handler_for(consumer_id: str) -> Any:
            def handle(envelope: SignalEnvelope) -> None:
                assert envelope.consumer_id == consumer_id
                key = (consumer_id, index[envelope.signal.signal_id])
                tries[key] += 1
                if tries[key] <= failures.get(key, 0):
                    raise RuntimeError(f"injected failure {tries[key]}")
                received[consumer_id].append(envelope.signal.signal_id)

            return handle

        consumers = []
        for consumer_id, subs in table.items():
            s.router.subscribe(consumer_id, subs)
            consumers.append(s.router.consumer(consumer_id, handler_for(consumer_id)))

        async def balanced() -> None:
            for account in await s.router.accounts():
                assert account.balanced, account

        async def scenario() -> None:
            for raw in raws:
                result = await s.router.route(raw)
                assert result.accepted, result.rejection
                await balanced()
                if index[raw["signal_id"]] % 3 == 0:  # consumers catch up now and then
                    for consumer in consumers:
                        await consumer.poll(max_count=2)
                        await balanced()
            for consumer in consumers:
                await consumer.drain()
            await balanced()

        asyncio.run(scenario())

        dead = {(d.consumer_id, d.signal.signal_id) for d in s.dead_letters.letters()}
        for consumer_id, subs in table.items():
            wanted = [
                r["signal_id"]
                for r in raws
                if any(Subscription(*p).matches(AISignal.model_validate(_typed(r))) for p in subs)
            ]
            dropped = {
                sid for sid in wanted if failures.get((consumer_id, index[sid]), 0) >= max_attempts
            }
            assert received[consumer_id] == [sid for sid in wanted if sid not in dropped]
            assert {sid for c, sid in dead if c == consumer_id} == dropped
            account = asyncio.run(s.router.account(consumer_id))
            assert account.accepted == len(wanted)
            assert account.delivered == len(wanted) - len(dropped)
            assert account.dead_lettered == len(dropped)
            assert account.pending == 0
        assert len(s.store.query(limit=None)) == len(raws)  # all buffered, once


def _typed(raw: dict[str, Any]) -> dict[str, Any]:
    kinds = {
        "SENTIMENT": "sentiment",
        "REGIME_PREDICTION": "regime",
        "VOLATILITY_FORECAST": "volatility_forecast",
        "CORRELATION_SHIFT": "correlation_shift",
    }
    return {**raw, "value": {"kind": kinds[raw["signal_type"]], **raw["value"]}}
