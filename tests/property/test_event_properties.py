"""The event hub's sequence and resume, over arbitrary publish/subscribe interleavings."""

from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.adapters.messaging.in_process_events import InProcessEventChannel
from quantdesk.domain.events import EventType
from quantdesk.services.events import EventHub

TYPES = list(EventType)


def _nothing() -> None:
    return None


# Property: event sequence is gap-free per hub and resume loses nothing within history
@settings(max_examples=200, deadline=None)
@given(
    before=st.lists(st.sampled_from(TYPES), max_size=40),
    after=st.lists(st.sampled_from(TYPES), max_size=40),
    history_size=st.integers(min_value=1, max_value=30),
    wanted=st.sets(st.sampled_from(TYPES)),
    resume_at=st.integers(min_value=0, max_value=45),
)
def test_sequence_is_gap_free_and_resume_loses_nothing_within_history(
    before: list[EventType],
    after: list[EventType],
    history_size: int,
    wanted: set[EventType],
    resume_at: int,
) -> None:
    hub = EventHub(InProcessEventChannel(), history_size=history_size, queue_size=100)
    published: list[tuple[int, EventType]] = []
    for type in before:
        hub.publish(type, {})
        published.append((hub.last_seq(), type))
    history = [event.seq for event in hub.history()]
    assert history == list(range(len(before) - len(history) + 1, len(before) + 1))
    assert len(history) == min(history_size, len(before))

    sub = hub.subscribe(wanted, wake=_nothing, after_seq=resume_at)
    for type in after:
        hub.publish(type, {})
        published.append((hub.last_seq(), type))
    assert [seq for seq, _ in published] == list(range(1, len(published) + 1))

    streamed, dropped = sub.queue.take(1000)
    received = [event.seq for event in sub.replay] + [event.seq for event in streamed]
    types = wanted or set(TYPES)
    oldest_kept = len(before) - len(history) + 1
    floor = min(resume_at, len(before))  # a seq beyond the newest counts as the newest
    expected = [
        seq for seq, type in published if seq > max(floor, oldest_kept - 1) and type in types
    ]
    assert received == expected and dropped == 0
    assert sub.missed == max(0, oldest_kept - 1 - floor)
