"""The default bus: one asyncio queue per consumer, inside the process that routes."""

import asyncio
from collections import deque
from collections.abc import Sequence
from itertools import count

from quantdesk.domain.signal_routing import SignalEnvelope
from quantdesk.services.ports import ReceivedSignal


class InProcessSignalBus:
    """``SignalBus`` for consumers that run beside the router; nothing outlives the process."""

    def __init__(self) -> None:
        self._queues: dict[str, deque[ReceivedSignal]] = {}
        self._in_flight: dict[str, dict[str, ReceivedSignal]] = {}
        self._ready: dict[str, asyncio.Event] = {}
        self._receipts = count(1)

    @property
    def durable(self) -> bool:
        return False

    async def publish(self, envelopes: Sequence[SignalEnvelope]) -> None:
        for envelope in envelopes:
            consumer = envelope.consumer_id
            item = ReceivedSignal(envelope, str(next(self._receipts)))
            self._queues.setdefault(consumer, deque()).append(item)
            event = self._ready.get(consumer)
            if event is not None:
                event.set()

    async def receive(
        self, consumer_id: str, *, max_count: int, timeout_s: float
    ) -> list[ReceivedSignal]:
        queue = self._queues.setdefault(consumer_id, deque())
        if not queue and timeout_s > 0:
            event = self._ready.setdefault(consumer_id, asyncio.Event())
            event.clear()
            try:
                await asyncio.wait_for(event.wait(), timeout_s)
            except TimeoutError:
                return []
        taken = [queue.popleft() for _ in range(min(max_count, len(queue)))]
        in_flight = self._in_flight.setdefault(consumer_id, {})
        for item in taken:
            in_flight[item.receipt] = item
        return taken

    async def ack(self, consumer_id: str, receipt: str) -> None:
        self._in_flight.get(consumer_id, {}).pop(receipt, None)

    async def pending(self, consumer_id: str) -> int:
        return len(self._queues.get(consumer_id, ())) + len(self._in_flight.get(consumer_id, {}))

    async def close(self) -> None:
        self._queues.clear()
        self._in_flight.clear()
