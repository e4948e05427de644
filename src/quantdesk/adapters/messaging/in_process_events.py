"""The default event channel: a counter and a direct call, inside one server process.

Enough for one process (``quantdesk serve`` without ``--workers``); with several, each has
its own sequence and sees only its own events, which is what ``QUANTDESK_REDIS_URL`` fixes.
"""

import threading
from collections.abc import Sequence

from quantdesk.domain.events import ServiceEvent
from quantdesk.services.ports.events import EventDraft, EventSink


class InProcessEventChannel:
    """``EventChannel`` for one process: numbers events 1, 2, 3, ... and delivers at once.

    Delivery happens under the channel's lock, so concurrent publishers' events reach the
    hub in ``seq`` order; the hub's part is a few deque appends, never a client's pace.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seq = 0
        self._sink: EventSink | None = None

    def open(self, sink: EventSink) -> None:
        with self._lock:
            self._sink = sink

    def send(self, draft: EventDraft) -> None:
        with self._lock:
            if self._sink is None:
                raise RuntimeError("the event channel is not open")
            self._seq += 1
            self._sink(draft.numbered(self._seq))

    def replay(self, after_seq: int, limit: int) -> Sequence[ServiceEvent]:
        """Nothing beyond the hub's own history: the hub is the only listener."""
        return ()

    def dropped(self) -> int:
        return 0

    def close(self) -> None:
        with self._lock:
            self._sink = None
