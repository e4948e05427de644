"""The event hub: sequence, per-client queues that drop their oldest, resume from a seq."""

import pytest

from quantdesk.adapters.messaging.in_process_events import InProcessEventChannel
from quantdesk.domain.correlation import correlated
from quantdesk.domain.events import EventType
from quantdesk.services.events import EventHub


def _hub(**kwargs: int) -> EventHub:
    return EventHub(InProcessEventChannel(), clock=lambda: 42, **kwargs)


def _nothing() -> None:
    return None


def test_events_are_numbered_and_carry_the_correlation_id() -> None:
    hub = _hub()
    with correlated("req-1"):
        hub.publish(EventType.job_update, {"state": "running"}, subject="job-1")
    hub.publish(EventType.signal, {"n": 1})
    first, second = hub.history()
    assert (first.seq, first.subject, first.correlation_id) == (1, "job-1", "req-1")
    assert first.at_ns == 42
    assert (second.seq, second.correlation_id) == (2, None)


def test_a_client_that_never_reads_does_not_hold_back_another() -> None:
    hub = _hub(queue_size=3)
    stalled = hub.subscribe([], wake=_nothing)
    reader = hub.subscribe([], wake=_nothing)
    seen: list[int] = []
    for n in range(10):
        hub.publish(EventType.backtest_progress, {"n": n})
        events, dropped = reader.queue.take(100)
        assert dropped == 0
        seen.extend(event.seq for event in events)
    assert seen == list(range(1, 11))
    events, dropped = stalled.queue.take(100)
    assert [event.seq for event in events] == [8, 9, 10]
    assert dropped == 7 and stalled.queue.dropped() == 7
    assert stalled.queue.take(100) == ([], 0)


def test_subscription_filters_types_and_counts_clients() -> None:
    hub = _hub()
    risk = hub.subscribe([EventType.risk_alert], wake=_nothing)
    assert hub.client_count() == 1
    hub.publish(EventType.signal, {})
    hub.publish(EventType.risk_alert, {"kill_switch": "thrown"})
    events, _ = risk.queue.take(10)
    assert [(e.seq, e.type) for e in events] == [(2, EventType.risk_alert)]
    hub.unsubscribe(risk.queue)
    assert hub.client_count() == 0
    hub.publish(EventType.risk_alert, {})
    assert risk.queue.pending() == 0


def test_resume_replays_exactly_what_was_missed_then_streams() -> None:
    hub = _hub()
    for n in range(5):
        hub.publish(EventType.job_update, {"n": n})
    again = hub.subscribe([], wake=_nothing, after_seq=2)
    assert [e.seq for e in again.replay] == [3, 4, 5]
    assert again.missed == 0 and again.last_seq == 5
    hub.publish(EventType.job_update, {"n": 5})
    assert [e.seq for e in again.queue.take(10)[0]] == [6]


def test_resume_beyond_the_history_says_how_many_are_lost() -> None:
    hub = _hub(history_size=3)
    for n in range(10):
        hub.publish(EventType.job_update, {"n": n})
    again = hub.subscribe([], wake=_nothing, after_seq=2)
    assert [e.seq for e in again.replay] == [8, 9, 10]
    assert again.missed == 5


def test_resume_from_the_future_replays_nothing() -> None:
    hub = _hub()
    hub.publish(EventType.signal, {})
    again = hub.subscribe([], wake=_nothing, after_seq=99)
    assert (again.replay, again.missed, again.last_seq) == ([], 0, 1)


def test_a_wake_up_that_fails_never_reaches_the_publisher() -> None:
    hub = _hub()

    def closed_loop() -> None:
        raise RuntimeError("Event loop is closed")

    sub = hub.subscribe([], wake=closed_loop)
    hub.publish(EventType.signal, {})
    assert sub.queue.pending() == 1


def test_a_payload_that_is_not_json_is_refused_on_the_publishers_stack() -> None:
    hub = _hub()
    with pytest.raises(ValueError):
        hub.publish(EventType.signal, {"bad": object()})  # type: ignore[dict-item]
    assert hub.last_seq() == 0


def test_a_closed_hub_ignores_publishers_and_refuses_subscribers() -> None:
    hub = _hub()
    sub = hub.subscribe([], wake=_nothing)
    hub.close()
    hub.publish(EventType.signal, {})
    assert hub.client_count() == 0 and sub.queue.pending() == 0
    with pytest.raises(RuntimeError):
        hub.subscribe([], wake=_nothing)
