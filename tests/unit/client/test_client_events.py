"""The client's event stream against a small WebSocket server speaking the service's
protocol: auth first, then subscribe; events in order; resume after the last seq on a
reconnect (no repeats); heartbeats skipped, drops counted; a refused credential is a 401."""

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from websockets.sync.server import ServerConnection, serve

from quantdesk.client import QuantdeskApiError
from quantdesk.client.events import AsyncEventStream, EventStream
from quantdesk.domain.events import EventType

Handler = Callable[[ServerConnection], None]


def event(seq: int, type_: str = "job_update") -> str:
    body = {"seq": seq, "type": type_, "at_ns": 1_000 + seq, "subject": "j1", "payload": {"n": seq}}
    return json.dumps({"type": "event", "event": body})


@contextmanager
def ws_server(handler: Handler) -> Iterator[str]:
    with serve(handler, "127.0.0.1", 0) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        port = server.socket.getsockname()[1]
        try:
            yield f"ws://127.0.0.1:{port}/api/v1/ws"
        finally:
            server.shutdown()
            thread.join(5)


def test_auth_then_subscribe_then_events_heartbeats_skipped_drops_counted() -> None:
    received: list[dict[str, object]] = []

    def handler(ws: ServerConnection) -> None:
        received.append(json.loads(ws.recv()))
        received.append(json.loads(ws.recv()))
        ws.send(json.dumps({"type": "heartbeat"}))
        ws.send(event(1))
        ws.send(json.dumps({"type": "dropped", "count": 7}))
        ws.send(event(2, "backtest_progress"))
        ws.recv()  # until the client goes

    with ws_server(handler) as url:
        types = [EventType.job_update, EventType.backtest_progress]
        with EventStream(url, lambda: "the-token", types) as stream:
            first, second = stream.receive(5), stream.receive(5)
    assert received == [
        {"type": "auth", "token": "the-token"},
        {"type": "subscribe", "events": ["job_update", "backtest_progress"]},
    ]
    assert (first.seq, first.type, first.payload) == (1, EventType.job_update, {"n": 1})
    assert (second.seq, second.type) == (2, EventType.backtest_progress)
    assert stream.dropped == 7
    assert stream.last_seq == 2


def test_a_dropped_connection_resumes_after_the_last_seq_without_repeats() -> None:
    subscriptions: list[dict[str, object]] = []

    def handler(ws: ServerConnection) -> None:
        ws.recv()
        subscribe = json.loads(ws.recv())
        subscriptions.append(subscribe)
        if "after_seq" not in subscribe:
            for seq in (1, 2, 3):
                ws.send(event(seq))
            ws.close()
            return
        for seq in (3, 4):  # a server may replay the boundary: the client skips it
            ws.send(event(seq))
        ws.recv()

    with ws_server(handler) as url, EventStream(url, lambda: "t", [EventType.job_update]) as stream:
        seqs = [stream.receive(5).seq for _ in range(4)]
    assert seqs == [1, 2, 3, 4]
    assert subscriptions[1]["after_seq"] == 3
    assert stream.cursor.reconnects == 1


def test_a_resume_point_given_up_front_is_sent_with_the_subscription() -> None:
    subscriptions: list[dict[str, object]] = []

    def handler(ws: ServerConnection) -> None:
        ws.recv()
        subscriptions.append(json.loads(ws.recv()))
        ws.send(event(11))
        ws.recv()

    with (
        ws_server(handler) as url,
        EventStream(url, lambda: "t", [EventType.job_update], after_seq=10) as stream,
    ):
        assert stream.receive(5).seq == 11
    assert subscriptions == [{"type": "subscribe", "events": ["job_update"], "after_seq": 10}]


def test_a_refused_credential_is_a_401_and_not_retried_without_a_way_to_renew() -> None:
    connections: list[int] = []

    def handler(ws: ServerConnection) -> None:
        connections.append(1)
        ws.recv()
        ws.close(4401, "unauthenticated")

    with ws_server(handler) as url:
        stream = EventStream(url, lambda: "expired", [EventType.job_update])
        with pytest.raises(QuantdeskApiError) as raised, stream:
            stream.receive(5)
    assert raised.value.status == 401
    assert len(connections) == 1


def test_an_error_message_from_the_server_is_raised_with_its_code() -> None:
    def handler(ws: ServerConnection) -> None:
        ws.recv()
        ws.send(json.dumps({"type": "error", "code": "forbidden", "detail": "no read"}))
        ws.recv()

    with (
        ws_server(handler) as url,
        pytest.raises(QuantdeskApiError) as raised,
        EventStream(url, lambda: "t", [EventType.signal]) as stream,
    ):
        stream.receive(5)
    assert (raised.value.status, raised.value.code) == (403, "forbidden")


def test_no_event_within_the_timeout_is_a_timeout_error() -> None:
    def handler(ws: ServerConnection) -> None:
        ws.recv()
        ws.recv()
        ws.recv()

    with (
        ws_server(handler) as url,
        EventStream(url, lambda: "t", [EventType.signal]) as stream,
        pytest.raises(TimeoutError),
    ):
        stream.receive(0.2)


def test_the_async_stream_reads_and_resumes_the_same_way() -> None:
    subscriptions: list[dict[str, object]] = []

    def handler(ws: ServerConnection) -> None:
        ws.recv()
        subscriptions.append(json.loads(ws.recv()))
        if len(subscriptions) == 1:
            ws.send(event(1))
            ws.close()
            return
        ws.send(event(2))
        ws.recv()

    async def scenario(url: str) -> list[int]:
        async with AsyncEventStream(url, lambda: "t", [EventType.job_update]) as stream:
            return [(await stream.receive(5)).seq for _ in range(2)]

    with ws_server(handler) as url:
        assert asyncio.run(scenario(url)) == [1, 2]
    assert subscriptions[1]["after_seq"] == 1


def test_a_refused_credential_is_renewed_once_and_the_stream_goes_on() -> None:
    tokens: list[str] = []
    held = {"token": "expired"}

    def handler(ws: ServerConnection) -> None:
        token = json.loads(ws.recv())["token"]
        tokens.append(token)
        if token == "expired":
            ws.close(4401, "unauthenticated")
            return
        ws.recv()
        ws.send(event(5))
        ws.recv()

    def renew() -> None:
        held["token"] = "fresh"

    with (
        ws_server(handler) as url,
        EventStream(url, lambda: held["token"], [EventType.job_update], renew=renew) as stream,
    ):
        assert stream.receive(5).seq == 5
    assert tokens[0] == "expired" and tokens[-1] == "fresh"
    assert stream.cursor.reconnects == 0
