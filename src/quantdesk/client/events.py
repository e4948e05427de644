"""Service events over the WebSocket ``/api/v1/ws``: authenticate with the first message
(never in the URL), subscribe to event types, and read numbered events; a dropped
connection is reopened a bounded number of times and resumes after the last ``seq`` seen,
so a client misses nothing the server still holds.

The server also sends heartbeats (skipped here) and ``dropped`` notices when this client was
too slow and lost its oldest events: ``stream.dropped`` counts them (they are not replayed).
"""

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from pydantic import ValidationError
from websockets.asyncio.client import ClientConnection as AsyncConnection
from websockets.asyncio.client import connect as async_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.sync.client import ClientConnection, connect

from quantdesk.client.errors import (
    QuantdeskApiError,
    QuantdeskConnectionError,
    QuantdeskProtocolError,
)
from quantdesk.domain.events import EventType, ServiceEvent

MESSAGE_MAX_BYTES = 1 << 20
RECONNECTS = 5
CLOSE_UNAUTHENTICATED = 4401
"""The server's close code for a credential refused or expired: renewed once, then raised."""
CLOSE_FORBIDDEN = 4403
"""The caller's role may not read events: raised at once."""


@dataclass
class Cursor:
    """Where a stream stands: the last event's ``seq`` (resume point) and losses reported."""

    types: tuple[EventType, ...]
    last_seq: int | None = None
    dropped: int = 0
    reconnects: int = 0
    renewals: int = 0

    def auth(self, credential: str) -> str:
        return json.dumps({"type": "auth", "token": credential})

    def subscribe(self) -> str:
        message: dict[str, Any] = {"type": "subscribe", "events": [t.value for t in self.types]}
        if self.last_seq is not None:
            message["after_seq"] = self.last_seq
        return json.dumps(message)

    def take(self, raw: str | bytes) -> ServiceEvent | None:
        """The event a message carries (None: heartbeat, notice); a repeated ``seq`` after a
        resume is skipped; an error message raises."""
        try:
            message = json.loads(raw)
        except ValueError:
            raise QuantdeskProtocolError(
                "the event stream sent a message that is not JSON"
            ) from None
        if not isinstance(message, dict):
            raise QuantdeskProtocolError("the event stream sent a message that is not an object")
        kind = message.get("type")
        if kind == "event":
            return self._event(message)
        if kind == "dropped":
            count = message.get("count")
            self.dropped += count if isinstance(count, int) and count > 0 else 0
        elif kind == "error":
            raise _refused(message)
        return None

    def _event(self, message: dict[str, Any]) -> ServiceEvent | None:
        body = message.get("event")
        fields = (
            body if isinstance(body, dict) else {k: v for k, v in message.items() if k != "type"}
        )
        if "event_type" in fields:
            fields = {
                **{k: v for k, v in fields.items() if k != "event_type"},
                "type": fields["event_type"],
            }
        try:
            event = ServiceEvent.model_validate(fields)
        except ValidationError as exc:
            raise QuantdeskProtocolError(
                f"an event of the wrong shape ({exc.error_count()} problems)"
            ) from None
        if self.last_seq is not None and event.seq <= self.last_seq:
            return None
        self.last_seq = event.seq
        return event


def _refused(message: dict[str, Any]) -> QuantdeskApiError:
    code = message.get("code") if isinstance(message.get("code"), str) else "error"
    detail = message.get("detail") if isinstance(message.get("detail"), str) else str(code)
    status = 401 if code == "unauthenticated" else 403 if code == "forbidden" else 400
    data = message.get("data") if isinstance(message.get("data"), dict) else None
    return QuantdeskApiError(
        status, str(code), "event stream refused", str(detail), message.get("correlation_id"), data
    )


def _close_refusal(error: ConnectionClosed) -> QuantdeskApiError | None:
    """The refusal a close code stands for (None: an ordinary drop, worth a reconnect)."""
    received = error.rcvd
    if received is None or received.code not in (CLOSE_UNAUTHENTICATED, CLOSE_FORBIDDEN):
        return None
    if received.code == CLOSE_UNAUTHENTICATED:
        return QuantdeskApiError(401, "unauthenticated", "event stream refused", received.reason)
    return QuantdeskApiError(403, "forbidden", "event stream refused", received.reason)


Credential = Callable[[], str | None]


class _Stream:
    """What the sync and the async stream share: the cursor, and the decisions after a
    failure (renew the credential once, reconnect a bounded number of times, or give up)."""

    def __init__(
        self,
        url: str,
        credential: Credential,
        types: Collection[EventType],
        after_seq: int | None,
        renewable: bool,
        reconnects: int,
        open_timeout: float,
    ) -> None:
        self.cursor = Cursor(tuple(EventType(t) for t in types), last_seq=after_seq)
        self.url = url
        self._credential = credential
        self._renewable = renewable
        self._reconnects = reconnects
        self._open_timeout = open_timeout

    @property
    def last_seq(self) -> int | None:
        return self.cursor.last_seq

    @property
    def dropped(self) -> int:
        return self.cursor.dropped

    def _held(self) -> str:
        credential = self._credential()
        if credential is None:
            raise ValueError("no credential for the event stream: log in or pass an API key")
        return credential

    def _renew_after(self, refusal: QuantdeskApiError) -> None:
        """Raise ``refusal`` unless the credential may be renewed now (once per refusal)."""
        if refusal.status != 401 or not self._renewable or self.cursor.renewals > 0:
            raise refusal
        self.cursor.renewals += 1

    def _reconnect_after(self, error: ConnectionClosed) -> bool:
        """After a drop: True when the credential must be renewed before reconnecting."""
        refusal = _close_refusal(error)
        if refusal is not None:
            self._renew_after(refusal)
            return True
        self.cursor.reconnects += 1
        if self.cursor.reconnects > self._reconnects:
            raise QuantdeskConnectionError(
                "WS", self.url, f"closed {self._reconnects + 1} times"
            ) from None
        return False

    def _unreachable(self, error: Exception) -> QuantdeskConnectionError:
        return QuantdeskConnectionError("WS", self.url, type(error).__name__)

    def _took(self, raw: str | bytes) -> tuple[ServiceEvent | None, bool]:
        """The message's event, and whether the credential must be renewed first."""
        try:
            event = self.cursor.take(raw)
        except QuantdeskApiError as refusal:
            self._renew_after(refusal)
            return None, True
        if event is not None:
            self.cursor.renewals = 0
        return event, False


_UNREACHABLE = (OSError, TimeoutError, InvalidHandshake, InvalidURI)


class EventStream(_Stream):
    """A blocking stream of events: ``for event in stream`` or ``stream.receive(timeout_s)``.

    ``credential`` gives the current access token or API key (read at each (re)connect);
    ``renew`` (optional) renews it once when the server refuses it."""

    def __init__(
        self,
        url: str,
        credential: Credential,
        types: Collection[EventType],
        *,
        after_seq: int | None = None,
        renew: Callable[[], object] | None = None,
        reconnects: int = RECONNECTS,
        open_timeout: float = 10.0,
    ) -> None:
        super().__init__(
            url, credential, types, after_seq, renew is not None, reconnects, open_timeout
        )
        self._renew = renew
        self._connection: ClientConnection | None = None

    def __enter__(self) -> "EventStream":
        self._open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def __iter__(self) -> Iterator[ServiceEvent]:
        while True:
            yield self.receive(None)

    def receive(self, timeout_s: float | None = 30.0) -> ServiceEvent:
        """The next event; TimeoutError when none came within ``timeout_s``."""
        while True:
            connection = self._connection or self._open()
            try:
                event, renew = self._took(connection.recv(timeout=timeout_s))
            except ConnectionClosed as error:
                self._connection = None
                renew = self._reconnect_after(error)
                event = None
            if renew:
                self._renewed()
            if event is not None:
                return event

    def _renewed(self) -> None:
        self.close()
        if self._renew is not None:
            self._renew()

    def _open(self) -> ClientConnection:
        credential = self._held()
        try:
            connection = connect(
                self.url,
                open_timeout=self._open_timeout,
                max_size=MESSAGE_MAX_BYTES,
                proxy=None,
                legacy=True,  # a connection we close ourselves (the stream outlives a block)
            )
            connection.send(self.cursor.auth(credential))
            connection.send(self.cursor.subscribe())
        except ConnectionClosed as error:
            if self._reconnect_after(error):
                self._renewed()
            return self._open()
        except _UNREACHABLE as error:
            raise self._unreachable(error) from None
        self._connection = connection
        return connection


class AsyncEventStream(_Stream):
    """The asyncio stream: ``async with client.events([...]) as stream: async for e in stream``."""

    def __init__(
        self,
        url: str,
        credential: Credential,
        types: Collection[EventType],
        *,
        after_seq: int | None = None,
        renew: Callable[[], Awaitable[object]] | None = None,
        reconnects: int = RECONNECTS,
        open_timeout: float = 10.0,
    ) -> None:
        super().__init__(
            url, credential, types, after_seq, renew is not None, reconnects, open_timeout
        )
        self._renew = renew
        self._connection: AsyncConnection | None = None

    async def __aenter__(self) -> "AsyncEventStream":
        await self._open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

    async def __aiter__(self) -> AsyncIterator[ServiceEvent]:
        while True:
            yield await self.receive(None)

    async def receive(self, timeout_s: float | None = 30.0) -> ServiceEvent:
        """The next event; TimeoutError when none came within ``timeout_s``."""
        while True:
            connection = self._connection or await self._open()
            try:
                raw = await asyncio.wait_for(connection.recv(), timeout_s)
                event, renew = self._took(raw)
            except ConnectionClosed as error:
                self._connection = None
                renew = self._reconnect_after(error)
                event = None
            if renew:
                await self._renewed()
            if event is not None:
                return event

    async def _renewed(self) -> None:
        await self.close()
        if self._renew is not None:
            await self._renew()

    async def _open(self) -> AsyncConnection:
        credential = self._held()
        try:
            connection = await async_connect(
                self.url, open_timeout=self._open_timeout, max_size=MESSAGE_MAX_BYTES, proxy=None
            )
            await connection.send(self.cursor.auth(credential))
            await connection.send(self.cursor.subscribe())
        except ConnectionClosed as error:
            if self._reconnect_after(error):
                await self._renewed()
            return await self._open()
        except _UNREACHABLE as error:
            raise self._unreachable(error) from None
        self._connection = connection
        return connection
