"""The /ws protocol in-process: authentication, subscribe and resume, drops, bounds."""

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from quantdesk.adapters.messaging.in_process_events import InProcessEventChannel
from quantdesk.api.deps import public
from quantdesk.api.ws import MESSAGE_MAX_CHARS
from quantdesk.domain.auth import Role
from quantdesk.domain.events import EventType
from quantdesk.services.events import EventHub
from support.api_app import TOKENS
from support.ws_app import ws_app

WS = "/api/v1/ws"


def _app(home: Path, hub: EventHub, **settings: Any) -> FastAPI:
    """The ws router alone over fake parts with a real hub; ``/burst`` publishes on the
    server's own loop, so no event is taken off a queue while a burst is published."""
    app = ws_app(home, hub, **settings)
    burst = APIRouter()

    @burst.post("/burst/{count}", dependencies=[public()])
    async def publish(count: int) -> None:
        for n in range(count):
            hub.publish(EventType.backtest_progress, {"n": n}, subject="run-1")

    app.include_router(burst)
    return app


@pytest.fixture
def hub() -> Iterator[EventHub]:
    built = EventHub(InProcessEventChannel())
    yield built
    built.close()


@pytest.fixture
def client(tmp_path: Path, hub: EventHub) -> Iterator[TestClient]:
    with TestClient(_app(tmp_path, hub, ws_queue_size=3, ws_heartbeat_seconds=3600)) as test:
        yield test


def _login(ws: WebSocketTestSession, role: Role = Role.viewer) -> dict[str, Any]:
    ws.send_json({"type": "auth", "token": TOKENS[role]})
    answer: dict[str, Any] = ws.receive_json()
    return answer


def _subscribe(ws: WebSocketTestSession, **message: Any) -> dict[str, Any]:
    ws.send_json({"type": "subscribe", **message})
    answer: dict[str, Any] = ws.receive_json()
    assert answer["type"] == "subscribed", answer
    return answer


def _closed_with(ws: WebSocketTestSession) -> int:
    with pytest.raises(WebSocketDisconnect) as closed:
        while True:
            ws.receive_json()
    return closed.value.code


def test_events_reach_a_subscribed_client_in_order(client: TestClient, hub: EventHub) -> None:
    with client.websocket_connect(WS) as ws:
        assert _login(ws) == {"type": "authenticated", "username": "viewer", "role": "viewer"}
        answer = _subscribe(ws, events=["job_update"])
        assert (answer["replayed"], answer["last_seq"], answer["events"]) == (0, 0, ["job_update"])
        assert hub.client_count() == 1
        hub.publish(EventType.signal, {"skipped": True})
        hub.publish(EventType.job_update, {"state": "running"}, subject="job-1")
        message = ws.receive_json()
        assert message["type"] == "event"
        event = message["event"]
        assert (event["seq"], event["type"], event["subject"]) == (2, "job_update", "job-1")
        assert event["payload"] == {"state": "running"}
    assert _eventually(lambda: hub.client_count() == 0)


def test_resume_after_a_seq_receives_exactly_what_was_missed(
    client: TestClient, hub: EventHub
) -> None:
    for n in range(5):
        hub.publish(EventType.job_update, {"n": n})
    with client.websocket_connect(WS) as ws:
        _login(ws)
        answer = _subscribe(ws, events=[], after_seq=2)
        assert (answer["replayed"], answer["last_seq"], answer["reset"]) == (3, 5, False)
        assert [ws.receive_json()["event"]["seq"] for _ in range(3)] == [3, 4, 5]
        hub.publish(EventType.job_update, {"n": 5})
        assert ws.receive_json()["event"]["seq"] == 6


def test_a_slow_client_loses_its_oldest_events_and_is_told_how_many(
    client: TestClient,
) -> None:
    with client.websocket_connect(WS) as ws:
        _login(ws)
        _subscribe(ws, events=["backtest_progress"])
        assert client.post("/burst/50").status_code == 200
        assert ws.receive_json() == {"type": "dropped", "count": 47, "reason": "slow_client"}
        assert [ws.receive_json()["event"]["seq"] for _ in range(3)] == [48, 49, 50]


def test_a_token_in_a_subprotocol_authenticates(client: TestClient) -> None:
    offered = ["quantdesk.v1", f"bearer.{TOKENS[Role.trader]}"]
    with client.websocket_connect(WS, subprotocols=offered) as ws:
        assert ws.accepted_subprotocol == "quantdesk.v1"  # the token is never echoed
        assert ws.receive_json()["username"] == "trader"
        _subscribe(ws, events=["risk_alert"])


@pytest.mark.parametrize(
    "first",
    [
        {"type": "auth", "token": "nope"},
        {"type": "subscribe", "events": []},
        {"type": "auth"},
        "not json",
    ],
)
def test_a_socket_that_does_not_authenticate_is_closed(client: TestClient, first: Any) -> None:
    with client.websocket_connect(WS) as ws:
        if isinstance(first, str):
            ws.send_text(first)
        else:
            ws.send_json(first)
        assert _closed_with(ws) == 4401


def test_a_socket_that_stays_silent_is_closed(client: TestClient, hub: EventHub) -> None:
    with client.websocket_connect(WS) as ws:
        assert _closed_with(ws) == 4401
    assert hub.client_count() == 0


def test_client_messages_are_bounded(client: TestClient) -> None:
    with client.websocket_connect(WS) as ws:
        _login(ws)
        ws.send_text("x" * (MESSAGE_MAX_CHARS + 1))
        assert _closed_with(ws) == 1009
    with client.websocket_connect(WS) as ws:
        _login(ws)
        ws.send_json({"type": "subscribe", "events": ["nope"]})
        assert ws.receive_json()["code"] == "invalid_input"
        ws.send_json({"type": "subscribe", "events": [], "after_seq": -1})
        assert ws.receive_json()["code"] == "invalid_input"
        for _ in range(8):  # ten refusals in all are answered; the eleventh closes
            ws.send_json({"type": "what"})
            assert ws.receive_json()["type"] == "error"
        ws.send_json({"type": "what"})
        assert _closed_with(ws) == 4400
    with client.websocket_connect(WS) as ws:
        _login(ws)
        for _ in range(200):
            ws.send_json({"type": "heartbeat"})
        assert _closed_with(ws) == 4429


def _eventually(condition: Any) -> bool:
    done = threading.Event()
    for _ in range(500):
        if condition():
            return True
        done.wait(0.01)
    return bool(condition())


def test_heartbeats_recheck_the_credential(
    tmp_path: Path, hub: EventHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _app(tmp_path, hub, ws_heartbeat_seconds=0.05)
    with TestClient(app) as test, test.websocket_connect(WS) as ws:
        _login(ws, Role.admin)
        beat = ws.receive_json()
        assert beat["type"] == "heartbeat" and beat["last_seq"] == 0
        monkeypatch.setitem(TOKENS, Role.admin, "rotated")  # the token proves no one now
        assert _closed_with(ws) == 4401


def test_a_broken_part_closes_the_stream_as_a_server_error(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(credential: str) -> None:
        raise RuntimeError("database is down")

    monkeypatch.setattr(client.app.state.platform.service.auth, "authenticate", down)  # type: ignore[attr-defined]
    with client.websocket_connect(WS) as ws:
        ws.send_json({"type": "auth", "token": TOKENS[Role.viewer]})
        assert _closed_with(ws) == 1011


def test_a_seq_from_before_a_restart_says_the_sequence_started_again(
    client: TestClient, hub: EventHub
) -> None:
    hub.publish(EventType.job_update, {"n": 0})
    with client.websocket_connect(WS) as ws:
        _login(ws)
        answer = _subscribe(ws, events=["job_update"], after_seq=500)
        assert (answer["replayed"], answer["last_seq"], answer["reset"]) == (0, 1, True)
        hub.publish(EventType.job_update, {"n": 1})
        assert ws.receive_json()["event"]["seq"] == 2  # new events are not skipped
