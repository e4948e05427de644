"""The event hub: numbered service events fanned out to clients that read at their own pace.

Publishers (jobs, the registry, risk, signals) call ``publish``; the channel numbers the event
(one sequence for all server processes) and hands it back to every hub, which keeps it in a
bounded history and offers it to each client's bounded queue. Offering never waits: a full
queue loses its oldest event and counts the loss, which the client is told. So a client that
never reads costs the others nothing but one deque append per event.

Resume: a client names the last ``seq`` it saw; the hub replays what came after it from its
own history, or from the channel's shared history (Redis) when its own does not reach back
that far (a process started after the client's last event), and says how many events were
beyond any history.
"""

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from pydantic import JsonValue, TypeAdapter

from quantdesk.domain.correlation import current_correlation_id
from quantdesk.domain.events import EventType, ServiceEvent
from quantdesk.services.ports.events import EventChannel, EventDraft

HISTORY_SIZE = 10_000
"""Events kept for clients that reconnect; one older than that is reported missed."""
QUEUE_SIZE = 1_000
"""Default events held per client (settings.ws_queue_size in the service)."""

Wake = Callable[[], None]
"""Tells a client's reader that its queue has something; called on the publisher's thread,
so it must be cheap and must not block (``loop.call_soon_threadsafe(event.set)``)."""

_PAYLOAD: TypeAdapter[dict[str, JsonValue]] = TypeAdapter(dict[str, JsonValue])
log = logging.getLogger(__name__)


class ClientQueue:
    """One client's pending events: at most ``capacity``, oldest dropped first and counted."""

    def __init__(self, types: frozenset[EventType], capacity: int, wake: Wake) -> None:
        if capacity < 1:
            raise ValueError("a client queue holds at least one event")
        self._types = types
        self._capacity = capacity
        self._wake = wake
        self._lock = threading.Lock()
        self._events: deque[ServiceEvent] = deque()
        self._unreported = 0
        self._dropped = 0
        self._closed = False
        self._floor = 0

    @property
    def types(self) -> frozenset[EventType]:
        return self._types

    def wants(self, event: ServiceEvent) -> bool:
        return event.type in self._types

    def offer(self, event: ServiceEvent) -> None:
        """Queue ``event`` if the client subscribed to its type; never blocks."""
        if event.type not in self._types:
            return
        with self._lock:
            if self._closed or event.seq <= self._floor:
                return
            if len(self._events) >= self._capacity:
                self._events.popleft()
                self._unreported += 1
                self._dropped += 1
            self._events.append(event)
        try:
            self._wake()
        except RuntimeError:  # the client's event loop is gone; its reader will not come back
            log.debug("event client wake-up failed: its loop is closed")

    def skip_through(self, seq: int) -> None:
        """Never queue an event up to ``seq``: the client has it already (replayed)."""
        with self._lock:
            self._floor = max(self._floor, seq)

    def take(self, limit: int) -> tuple[list[ServiceEvent], int]:
        """Up to ``limit`` queued events, oldest first, and how many were dropped since the
        last call (all of them older than the events returned)."""
        with self._lock:
            count = min(limit, len(self._events))
            events = [self._events.popleft() for _ in range(count)]
            dropped, self._unreported = self._unreported, 0
        return events, dropped

    def pending(self) -> int:
        with self._lock:
            return len(self._events)

    def dropped(self) -> int:
        """Events this client lost to a full queue since it subscribed."""
        with self._lock:
            return self._dropped

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._events.clear()


@dataclass(frozen=True)
class Subscription:
    """A client's place in the stream: its queue, what it missed to replay first, and how many
    events after its ``after_seq`` are beyond every history (lost to it for good)."""

    queue: ClientQueue
    replay: list[ServiceEvent]
    missed: int
    last_seq: int


class EventHub:
    """``EventPublisher`` for the service; fans events out to WebSocket clients."""

    def __init__(
        self,
        channel: EventChannel,
        *,
        history_size: int = HISTORY_SIZE,
        queue_size: int = QUEUE_SIZE,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        if history_size < 1 or queue_size < 1:
            raise ValueError("history and queue sizes must be positive")
        self._channel = channel
        self._history_size = history_size
        self._queue_size = queue_size
        self._clock = clock
        self._lock = threading.Lock()
        self._open_lock = threading.Lock()
        self._opened = False
        self._closed = False
        self._history: deque[ServiceEvent] = deque(maxlen=history_size)
        self._last_seq = 0
        self._clients: list[ClientQueue] = []

    def publish(
        self,
        type: EventType,
        payload: Mapping[str, JsonValue],
        *,
        subject: str | None = None,
    ) -> None:
        """Number and fan out an event; the correlation id is the caller's current one.

        A payload that is not JSON is a programming error and raises here, on the
        publisher's own stack, rather than later on a channel thread.
        """
        checked = _PAYLOAD.validate_python(dict(payload))
        if not self._ensure_open():
            log.debug("event %s not published: the hub is closed", type)
            return
        draft = EventDraft(
            type=EventType(type),
            at_ns=self._clock(),
            subject=subject,
            payload=checked,
            correlation_id=current_correlation_id(),
        )
        self._channel.send(draft)

    def subscribe(
        self,
        types: Collection[EventType],
        *,
        wake: Wake,
        after_seq: int | None = None,
        queue_size: int | None = None,
    ) -> Subscription:
        """Register a client for ``types`` (all types when empty).

        Events published from now on go to its queue; with ``after_seq``, those after it that
        are still in a history come back in ``replay`` (oldest first; the queue never repeats
        them). Whatever the client missed beyond every history is counted in ``missed``. An
        ``after_seq`` beyond the newest event (a client of an earlier, restarted sequence)
        counts as the newest: nothing is replayed and nothing new is skipped.
        """
        if not self._ensure_open():
            raise RuntimeError("the event hub is closed")
        wanted = frozenset(types) or frozenset(EventType)
        queue = ClientQueue(wanted, queue_size or self._queue_size, wake)
        shared: list[ServiceEvent] = []
        if after_seq is not None and not self._covers(after_seq):
            start = min(after_seq, self.last_seq())
            shared = list(self._channel.replay(start, self._history_size))
        with self._lock:
            self._clients.append(queue)
            known = max(self._last_seq, shared[-1].seq if shared else 0)
            if after_seq is None:
                queue.skip_through(known)
                return Subscription(queue, [], 0, known)
            floor = min(after_seq, known)
            merged = {event.seq: event for event in shared if event.seq > floor}
            merged.update((event.seq, event) for event in self._history if event.seq > floor)
            ordered = [merged[seq] for seq in sorted(merged)]
            queue.skip_through(ordered[-1].seq if ordered else floor)
        first = ordered[0].seq if ordered else known + 1
        missed = max(0, first - floor - 1)
        return Subscription(queue, [e for e in ordered if queue.wants(e)], missed, known)

    def unsubscribe(self, queue: ClientQueue) -> None:
        queue.close()
        with self._lock:
            if queue in self._clients:
                self._clients.remove(queue)

    def client_count(self) -> int:
        with self._lock:
            return len(self._clients)

    def last_seq(self) -> int:
        """The newest ``seq`` this hub has seen (0 before any)."""
        with self._lock:
            return self._last_seq

    def history(self, after_seq: int = 0) -> list[ServiceEvent]:
        """This hub's own history after ``after_seq``, oldest first."""
        with self._lock:
            return [event for event in self._history if event.seq > after_seq]

    def channel_dropped(self) -> int:
        return self._channel.dropped()

    def close(self) -> None:
        with self._open_lock:
            if self._opened and not self._closed:
                self._channel.close()
            self._closed = True
        with self._lock:
            clients, self._clients = self._clients, []
        for queue in clients:
            queue.close()

    def _ensure_open(self) -> bool:
        """Open the channel on first use (no threads or connections before anyone needs
        them); False once the hub is closed."""
        if self._opened and not self._closed:
            return True
        with self._open_lock:
            if self._closed:
                return False
            if not self._opened:
                self._channel.open(self._deliver)
                self._opened = True
            return True

    def _covers(self, after_seq: int) -> bool:
        """Whether this hub's own history holds every event after ``after_seq``."""
        with self._lock:
            return (
                bool(self._history)
                and self._history[0].seq <= after_seq + 1
                and after_seq <= self._last_seq
            )

    def _deliver(self, event: ServiceEvent) -> None:
        """The channel's callback, in ``seq`` order; a repeated or older event is ignored and
        a jump (events beyond the channel's reach) starts the history afresh, so the history
        is always gap-free."""
        with self._lock:
            if event.seq <= self._last_seq:
                return
            if self._history and event.seq != self._last_seq + 1:
                self._history.clear()
            self._history.append(event)
            self._last_seq = event.seq
            clients = tuple(self._clients)
        for queue in clients:
            queue.offer(event)
