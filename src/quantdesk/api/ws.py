"""``/ws``: service events to a client over a WebSocket, numbered, resumable, never blocking.

Protocol (JSON text messages):

- the client authenticates first: ``{"type": "auth", "token": "<access token or API key>"}``
  within ``auth_timeout_seconds``, or offers the subprotocol ``bearer.<token>`` beside
  ``quantdesk.v1`` (browsers cannot set headers). Never in the URL: URLs end up in logs.
  Refused: closed with 4401 (4403 when the role may not read).
- ``{"type": "subscribe", "events": ["job_update", ...], "after_seq": N}``: the events
  after ``N`` still in a history come first (``after_seq`` omitted: from now on), then the
  live stream; ``{"type": "subscribed", ...}`` answers with the replay count, the last seq
  and ``reset`` (true when ``after_seq`` is beyond the last seq: the sequence started again,
  so the client forgets its old numbers). A later subscribe replaces the first.
- the server sends ``{"type": "event", "event": {seq, type, at_ns, subject, payload,
  correlation_id}}``, ``{"type": "heartbeat", ...}`` every ``ws_heartbeat_seconds``, and
  ``{"type": "dropped", "count": N, "reason": "slow_client" | "history"}`` when this client
  lost events (its queue was full, or they were older than any history).
- the credential is checked again at each heartbeat (an expired or revoked one closes the
  stream with 4401); ``{"type": "auth", ...}`` again renews it on the open connection.

Each client has its own bounded queue in the hub and one writer task: a client that never
reads only loses its own oldest events. Client messages are bounded in size and rate.
"""

import asyncio
import logging
import time
from collections import deque
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any, Final

from fastapi import APIRouter, WebSocket
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketDisconnect, WebSocketDisconnected, WebSocketState

from quantdesk.domain.auth import Permission, Principal
from quantdesk.domain.documents import DocumentLimitError, DocumentLimits, loads_json
from quantdesk.domain.errors import AuthenticationError, QuantdeskError
from quantdesk.domain.events import EventType, ServiceEvent
from quantdesk.services.events import EventHub, Subscription
from quantdesk.services.service_parts import ServiceParts

SUBPROTOCOL: Final = "quantdesk.v1"
TOKEN_SUBPROTOCOL_PREFIX: Final = "bearer."
AUTH_TIMEOUT_S: Final = 5.0
MESSAGE_MAX_CHARS: Final = 8192
MESSAGES_PER_MINUTE: Final = 120
ERRORS_MAX: Final = 10
SEND_BATCH: Final = 200
CLOSE_UNAUTHENTICATED: Final = 4401
CLOSE_FORBIDDEN: Final = 4403
CLOSE_PROTOCOL: Final = 4400
CLOSE_TOO_MANY: Final = 4429
CLOSE_TOO_BIG: Final = 1009
CLOSE_INTERNAL: Final = 1011
log = logging.getLogger(__name__)
_LIMITS: Final = DocumentLimits(
    max_bytes=MESSAGE_MAX_CHARS, max_depth=4, max_nodes=200, max_string_chars=4096
)


class _CloseError(Exception):
    """End the session with this close code and reason."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


_ENDED = (WebSocketDisconnect, WebSocketDisconnected, _CloseError)
"""How a session's task ends when the other one ended first."""


@dataclass
class _Session:
    """One connection's state, shared by its reader and its writer."""

    websocket: WebSocket
    parts: ServiceParts
    hub: EventHub
    token: str
    principal: Principal
    heartbeat_s: float
    queue_size: int
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    outbox: deque[dict[str, Any]] = field(default_factory=deque)
    subscription: Subscription | None = None
    received: deque[float] = field(default_factory=deque)
    errors: int = 0

    def wake_from_any_thread(self) -> None:
        """The hub calls this on the publisher's thread: hand the wake-up to our loop."""
        if not self.wakeup.is_set():
            self._loop.call_soon_threadsafe(self.wakeup.set)

    def __post_init__(self) -> None:
        self._loop = asyncio.get_running_loop()

    def say(self, message: dict[str, Any]) -> None:
        self.outbox.append(message)
        self.wakeup.set()


def build_ws_router(*, auth_timeout_seconds: float = AUTH_TIMEOUT_S) -> APIRouter:
    router = APIRouter(tags=["events"])

    @router.websocket("/ws")
    async def events(websocket: WebSocket) -> None:
        """Service events: authenticate, subscribe (resume after a seq), receive."""
        await _serve(websocket, auth_timeout_seconds)

    return router


async def _serve(websocket: WebSocket, auth_timeout_s: float) -> None:
    offered = list(websocket.scope.get("subprotocols") or [])
    prefix = TOKEN_SUBPROTOCOL_PREFIX
    token = next((p[len(prefix) :] for p in offered if p.startswith(prefix)), None)
    await websocket.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)
    session: _Session | None = None
    try:
        if token is None:
            token = await _first_token(websocket, auth_timeout_s)
        parts: ServiceParts = await run_in_threadpool(lambda: websocket.app.state.platform.service)
        principal = await _authenticated(parts, token)
        settings = websocket.app.state.settings
        session = _Session(
            websocket,
            parts,
            parts.events,
            token,
            principal,
            heartbeat_s=float(settings.ws_heartbeat_seconds),
            queue_size=int(settings.ws_queue_size),
        )
        await _send(
            websocket,
            {"type": "authenticated", "username": principal.username, "role": principal.role},
        )
        await _run(session)
    except _CloseError as closing:
        await _close(websocket, closing.code, closing.reason)
    except (WebSocketDisconnect, WebSocketDisconnected):
        pass
    except Exception:  # a broken part (the database...): logged, the client told to retry
        log.exception("event stream failed")
        await _close(websocket, CLOSE_INTERNAL, "internal error")
    finally:
        if session is not None and session.subscription is not None:
            session.hub.unsubscribe(session.subscription.queue)


async def _first_token(websocket: WebSocket, timeout_s: float) -> str:
    try:
        message = await asyncio.wait_for(websocket.receive(), timeout_s)
    except TimeoutError:
        raise _CloseError(CLOSE_UNAUTHENTICATED, "authenticate within the first seconds") from None
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    parsed = _parse(message)
    token = parsed.get("token") if isinstance(parsed, dict) else None
    if not isinstance(parsed, dict) or parsed.get("type") != "auth" or not isinstance(token, str):
        await _send(websocket, _error("unauthenticated", 'send {"type": "auth", "token": ...}'))
        raise _CloseError(CLOSE_UNAUTHENTICATED, "the first message must authenticate")
    return token


async def _authenticated(parts: ServiceParts, token: str) -> Principal:
    try:
        principal: Principal = await run_in_threadpool(parts.auth.authenticate, token)
    except AuthenticationError:
        raise _CloseError(CLOSE_UNAUTHENTICATED, "invalid credentials") from None
    if not principal.allows(Permission.read):
        raise _CloseError(CLOSE_FORBIDDEN, "this role may not read events")
    return principal


async def _run(session: _Session) -> None:
    """Reader and writer side by side; whichever ends first ends the other."""
    reader = asyncio.create_task(_read(session))
    writer = asyncio.create_task(_write(session))
    done, pending = await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
        with suppress(
            asyncio.CancelledError, WebSocketDisconnect, WebSocketDisconnected, _CloseError
        ):
            await task
    for task in done:
        task.result()  # re-raises _CloseError or a disconnect


async def _read(session: _Session) -> None:
    while True:
        message = await session.websocket.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000))
        _count(session)
        parsed = _parse(message)
        kind = parsed.get("type") if isinstance(parsed, dict) else None
        if kind == "subscribe" and isinstance(parsed, dict):
            await _subscribe(session, parsed)
        elif kind == "auth" and isinstance(parsed, dict) and isinstance(parsed.get("token"), str):
            session.principal = await _authenticated(session.parts, parsed["token"])
            session.token = parsed["token"]
            session.say({"type": "authenticated", "username": session.principal.username})
        elif kind == "heartbeat":
            continue
        else:
            _refuse(session, "send subscribe, heartbeat or auth messages")


async def _subscribe(session: _Session, message: dict[str, Any]) -> None:
    names = message.get("events", [])
    after_seq = message.get("after_seq")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        _refuse(session, "events is a list of event types")
        return
    unknown = sorted(set(names) - set(EventType))
    if unknown or (after_seq is not None and not _is_seq(after_seq)):
        what = f"unknown event types {unknown[:5]}" if unknown else "after_seq is a seq >= 0"
        _refuse(session, what)
        return
    if session.subscription is not None:
        session.hub.unsubscribe(session.subscription.queue)
        session.subscription = None
    types = [EventType(name) for name in names]
    subscription = await run_in_threadpool(
        lambda: session.hub.subscribe(
            types,
            wake=session.wake_from_any_thread,
            after_seq=after_seq,
            queue_size=session.queue_size,
        )
    )
    session.say(
        {
            "type": "subscribed",
            "events": sorted(t.value for t in subscription.queue.types),
            "after_seq": after_seq,
            "replayed": len(subscription.replay),
            "last_seq": subscription.last_seq,
            # a seq beyond the newest: the service's sequence started again (a restart
            # without Redis); the client's numbers from before mean nothing now
            "reset": after_seq is not None and after_seq > subscription.last_seq,
        }
    )
    if subscription.missed:
        session.say({"type": "dropped", "count": subscription.missed, "reason": "history"})
    session.outbox.extend(_event_message(event) for event in subscription.replay)
    session.subscription = subscription  # after the replay: the writer sends it first


async def _write(session: _Session) -> None:
    next_beat = time.monotonic() + session.heartbeat_s
    while True:
        timeout = max(0.0, next_beat - time.monotonic())
        with suppress(TimeoutError):
            await asyncio.wait_for(session.wakeup.wait(), timeout)
        session.wakeup.clear()
        while session.outbox:
            await _send(session.websocket, session.outbox.popleft())
        await _drain(session)
        if time.monotonic() >= next_beat:
            await _authenticated(session.parts, session.token)  # expired or revoked: closed
            await _send(session.websocket, _heartbeat(session))
            next_beat = time.monotonic() + session.heartbeat_s


async def _drain(session: _Session) -> None:
    while (subscription := session.subscription) is not None:
        events, dropped = subscription.queue.take(SEND_BATCH)
        if dropped:
            await _send(
                session.websocket, {"type": "dropped", "count": dropped, "reason": "slow_client"}
            )
        for event in events:
            await _send(session.websocket, _event_message(event))
        if len(events) < SEND_BATCH:
            return


def _heartbeat(session: _Session) -> dict[str, Any]:
    return {"type": "heartbeat", "at_ns": time.time_ns(), "last_seq": session.hub.last_seq()}


def _event_message(event: ServiceEvent) -> dict[str, Any]:
    return {"type": "event", "event": event.model_dump(mode="json")}


def _error(code: str, detail: str) -> dict[str, Any]:
    return {"type": "error", "code": code, "detail": detail}


def _refuse(session: _Session, detail: str) -> None:
    session.errors += 1
    if session.errors > ERRORS_MAX:
        raise _CloseError(CLOSE_PROTOCOL, "too many invalid messages")
    session.say(_error("invalid_input", detail))


def _count(session: _Session) -> None:
    """At most ``MESSAGES_PER_MINUTE`` client messages in any 60 s."""
    now = time.monotonic()
    session.received.append(now)
    while session.received and session.received[0] < now - 60:
        session.received.popleft()
    if len(session.received) > MESSAGES_PER_MINUTE:
        raise _CloseError(CLOSE_TOO_MANY, "too many messages")


def _parse(message: Any) -> Any:
    """A client message as JSON within small bounds; None for anything that is not."""
    text = message.get("text")
    if text is None:
        if message.get("bytes") is not None:
            raise _CloseError(CLOSE_PROTOCOL, "send text messages")
        return None
    if len(text) > MESSAGE_MAX_CHARS:
        raise _CloseError(CLOSE_TOO_BIG, f"messages are at most {MESSAGE_MAX_CHARS} characters")
    try:
        return loads_json(text, _LIMITS)
    except (DocumentLimitError, QuantdeskError):
        return None


def _is_seq(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63


async def _send(websocket: WebSocket, message: dict[str, Any]) -> None:
    await websocket.send_json(message)


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    if websocket.application_state is WebSocketState.CONNECTED:
        with suppress(RuntimeError, WebSocketDisconnect):
            await websocket.close(code, reason)
