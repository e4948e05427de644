"""Property 23: replay is reproducible.

An engine run per example would take seconds, so the property is checked here on the pure
part that decides the order signals reach a strategy: how :class:`SignalFeed` hands signals
to the engine chunk by chunk (``merged_order`` mirrors the node's loop, the engine's stable
sort included). Whatever the chunking, the delivery order is the one-shot order: sorted by
``ts_init``, bars before signals at equal times, nothing lost or repeated. The same run twice
on the real engine (and over several chunk sizes) is in
``tests/integration/test_signal_replay.py``.
"""

from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.adapters.nautilus.signal_replay import SignalFeed, merged_order

stamps = st.lists(st.integers(0, 60), max_size=60).map(sorted)


def _chunked(bars: list[int], cuts: list[int]) -> list[list[int]]:
    bounds = sorted({min(c, len(bars)) for c in cuts} | {0, len(bars)})
    return [bars[a:b] for a, b in pairwise(bounds)]


# Property 23: replay is reproducible
@settings(max_examples=100)
@given(bars=stamps, signals=stamps, cuts=st.lists(st.integers(0, 60), max_size=12))
def test_chunking_never_changes_the_delivery_order(
    bars: list[int], signals: list[int], cuts: list[int]
) -> None:
    oneshot = merged_order([bars], signals, streaming=False)
    streamed = merged_order(_chunked(bars, cuts), signals, streaming=True)
    assert streamed == oneshot
    assert sorted(streamed) == sorted([("bar", t) for t in bars] + [("signal", t) for t in signals])
    kinds_at = [(ts, 0 if kind == "bar" else 1) for kind, ts in streamed]
    assert kinds_at == sorted(kinds_at), "out of time order, or a signal before a bar of its time"


# Property 23: replay is reproducible
@settings(max_examples=100)
@given(signals=stamps, horizons=st.lists(st.integers(-5, 70), max_size=10).map(sorted))
def test_a_feed_hands_out_each_signal_once_and_only_when_due(
    signals: list[int], horizons: list[int]
) -> None:
    feed = SignalFeed(signals, lambda ts: ts)
    handed: list[int] = []
    for horizon in horizons:
        step = feed.before(horizon)
        assert all(ts < horizon for ts in step), "handed out a signal before it was due"
        handed += step
    handed += feed.rest()
    assert handed == signals
    assert feed.rest() == [] and feed.before(10**9) == []
