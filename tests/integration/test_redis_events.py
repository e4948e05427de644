"""Service events over the real Redis: two hubs (two server processes) share one sequence."""

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient

from quantdesk.adapters.messaging.redis_events import RedisEventChannel
from quantdesk.domain.auth import Role
from quantdesk.domain.events import EventType
from quantdesk.services.events import EventHub
from support.api_app import TOKENS
from support.environment import require_service
from support.ws_app import ws_app

pytestmark = pytest.mark.services
URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def prefix() -> Iterator[str]:
    require_service("127.0.0.1", 6379, "Redis")
    name = f"quantdesk-test:{uuid.uuid4().hex}"
    yield name
    client = redis.Redis.from_url(URL)
    client.delete(f"{name}:seq", f"{name}:history")
    client.close()


def _until(condition: Callable[[], bool], what: str) -> None:
    """Wait for the listener threads (a bound, not a timing assertion)."""
    deadline = time.monotonic() + 10
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within 10 s: {what}")
        time.sleep(0.01)


def _nothing() -> None:
    return None


def _hub(prefix: str, history_size: int = 100) -> EventHub:
    channel = RedisEventChannel(URL, prefix=prefix, history_size=history_size)
    return EventHub(channel, history_size=history_size)


def test_two_hubs_see_every_event_under_one_sequence(prefix: str) -> None:
    a, b = _hub(prefix), _hub(prefix)
    try:
        client_a = a.subscribe([], wake=_nothing)
        client_b = b.subscribe([], wake=_nothing)
        threads = [
            threading.Thread(
                target=lambda hub=hub: [
                    hub.publish(EventType.job_update, {"n": n}) for n in range(50)
                ]
            )
            for hub in (a, b)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        _until(lambda: a.last_seq() == 100 and b.last_seq() == 100, "100 events on both hubs")
        seen_a = [(e.seq, e.payload["n"], e.at_ns) for e in client_a.queue.take(1000)[0]]
        seen_b = [(e.seq, e.payload["n"], e.at_ns) for e in client_b.queue.take(1000)[0]]
        assert [seq for seq, _, _ in seen_a] == list(range(1, 101))
        assert seen_a == seen_b
    finally:
        a.close()
        b.close()


def test_a_hub_started_later_resumes_a_client_from_the_shared_history(prefix: str) -> None:
    first = _hub(prefix, history_size=5)
    try:
        watcher = first.subscribe([], wake=_nothing)
        for n in range(8):
            first.publish(EventType.signal, {"n": n})
        _until(lambda: first.last_seq() == 8, "8 events")
        assert len(watcher.queue.take(100)[0]) == 8
        later = _hub(prefix, history_size=5)
        try:
            again = later.subscribe([EventType.signal], wake=_nothing, after_seq=2)
            assert [e.seq for e in again.replay] == [4, 5, 6, 7, 8]
            assert again.missed == 1 and again.last_seq == 8
            first.publish(EventType.signal, {"n": 8})
            _until(lambda: again.queue.pending() == 1, "the next event live")
            assert [e.seq for e in again.queue.take(10)[0]] == [9]
        finally:
            later.close()
    finally:
        first.close()


def test_a_message_that_is_not_an_event_is_skipped(prefix: str) -> None:
    hub = _hub(prefix)
    client = redis.Redis.from_url(URL)
    try:
        watcher = hub.subscribe([], wake=_nothing)
        client.publish(f"{prefix}:live", b"12 {not json")
        client.publish(f"{prefix}:live", b"\xff\xfe garbage")
        client.publish(f"{prefix}:live", b'13 {"type": "nope", "at_ns": 1}')
        client.publish(f"{prefix}:live", b'999 {"type": "signal", "at_ns": 1}')  # forged
        hub.publish(EventType.risk_alert, {"kill_switch": "thrown"})
        _until(lambda: watcher.queue.pending() == 1, "the real event")
        (event,), dropped = watcher.queue.take(10)
        assert (event.seq, event.type, dropped) == (1, EventType.risk_alert, 0)
    finally:
        client.close()
        hub.close()


def test_redis_down_costs_the_publisher_nothing_and_is_counted() -> None:
    hub = EventHub(RedisEventChannel("redis://127.0.0.1:1/0", outbox_size=2))
    try:
        for n in range(5):
            hub.publish(EventType.signal, {"n": n})
        _until(lambda: hub.channel_dropped() == 5, "every event counted as dropped")
        assert hub.last_seq() == 0
    finally:
        hub.close()


def test_a_client_resumes_on_another_server_process(prefix: str, tmp_path: Path) -> None:
    """Two apps (two ``--workers``) on one Redis: a client that saw events on the first and
    reconnects to the second with its last seq receives exactly what it missed."""
    first, second = _hub(prefix), _hub(prefix)
    try:
        with (
            TestClient(ws_app(tmp_path / "a", first, ws_heartbeat_seconds=3600)) as one,
            TestClient(ws_app(tmp_path / "b", second, ws_heartbeat_seconds=3600)) as two,
        ):
            with one.websocket_connect("/api/v1/ws") as ws:
                ws.send_json({"type": "auth", "token": TOKENS[Role.viewer]})
                assert ws.receive_json()["type"] == "authenticated"
                ws.send_json({"type": "subscribe", "events": ["job_update"]})
                assert ws.receive_json()["type"] == "subscribed"
                second.publish(EventType.job_update, {"n": 1})  # from the other process
                last = ws.receive_json()["event"]["seq"]
            for n in range(2, 5):
                first.publish(EventType.job_update, {"n": n})
                first.publish(EventType.signal, {"n": n})  # not subscribed: not replayed
            _until(lambda: second.last_seq() == 7, "both hubs at seq 7")
            with two.websocket_connect("/api/v1/ws") as ws:
                ws.send_json({"type": "auth", "token": TOKENS[Role.viewer]})
                assert ws.receive_json()["type"] == "authenticated"
                ws.send_json({"type": "subscribe", "events": ["job_update"], "after_seq": last})
                answer = ws.receive_json()
                assert (answer["replayed"], answer["last_seq"]) == (3, 7)
                replayed = [ws.receive_json()["event"] for _ in range(3)]
                assert [e["payload"]["n"] for e in replayed] == [2, 3, 4]
                assert [e["seq"] for e in replayed] == [2, 4, 6]
    finally:
        first.close()
        second.close()
