"""A client that never reads, over a real uvicorn server and TCP: it loses only its own
oldest events, while another client receives every event in order."""

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from websockets.sync.client import ClientConnection, connect

from quantdesk.adapters.messaging.in_process_events import InProcessEventChannel
from quantdesk.domain.auth import Role
from quantdesk.domain.events import EventType
from quantdesk.services.events import EventHub
from support.api_app import TOKENS
from support.ws_app import ws_app

EVENTS = 400
PAYLOAD = "x" * 100_000  # 40 MB in all (uncompressed): far more than a stalled reader buffers
QUEUE = 20


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, EventHub]]:
    hub = EventHub(InProcessEventChannel(), queue_size=QUEUE)
    app = ws_app(tmp_path, hub, ws_queue_size=QUEUE, ws_heartbeat_seconds=3600)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    started = threading.Event()
    while not server.started:
        started.wait(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"ws://127.0.0.1:{port}/api/v1/ws", hub
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        hub.close()


def _subscribed(url: str) -> ClientConnection:
    """A subscribed client whose socket buffers little (the kernel would otherwise grow a
    loopback receive buffer to tens of MB before the server felt anything)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65_536)
    host, port = url.split("/")[2].split(":")
    sock.connect((host, int(port)))
    ws = connect(
        url, sock=sock, max_size=None, max_queue=4, proxy=None, legacy=True, compression=None
    )
    ws.send(json.dumps({"type": "auth", "token": TOKENS[Role.viewer]}))
    assert json.loads(ws.recv(timeout=10))["type"] == "authenticated"
    ws.send(json.dumps({"type": "subscribe", "events": ["backtest_progress"]}))
    assert json.loads(ws.recv(timeout=10))["type"] == "subscribed"
    return ws


def _message(ws: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(ws.recv(timeout=30))
    return message


def test_a_client_that_never_reads_does_not_hold_back_another(
    served: tuple[str, EventHub],
) -> None:
    url, hub = served
    stalled = _subscribed(url)
    reader = _subscribed(url)
    try:
        seen: list[int] = []
        for n in range(EVENTS):  # lockstep: each event published once the last one arrived
            hub.publish(EventType.backtest_progress, {"n": n, "pad": PAYLOAD})
            message = _message(reader)
            assert message["type"] == "event", message
            seen.append(message["event"]["seq"])
        assert seen == list(range(1, EVENTS + 1))  # everything, in order, nothing dropped

        got: list[int] = []
        dropped = 0
        while not got or got[-1] < EVENTS:
            message = _message(stalled)
            if message["type"] == "dropped":
                dropped += message["count"]
            elif message["type"] == "event":
                got.append(message["event"]["seq"])
        assert dropped > 0 and len(got) + dropped == EVENTS, (dropped, len(got))
        assert got == sorted(got) and got[-QUEUE:] == list(range(EVENTS - QUEUE + 1, EVENTS + 1))
    finally:
        stalled.close()
        reader.close()
