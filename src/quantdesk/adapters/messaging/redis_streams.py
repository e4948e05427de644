"""Signals across processes: one Redis stream per consumer, read through a consumer group.

``<prefix>:consumer:<consumer id>`` holds the consumer's envelopes (one field ``envelope``,
JSON). Every process running that consumer reads with ``XREADGROUP`` in the group
``quantdesk`` (so several workers share the load), and acknowledges with ``XACK`` and
``XDEL`` in one transaction: the stream's length is exactly what is still pending. An
envelope read by a worker that died is claimed by another after ``claim_idle_s``.
"""

import json
import os
import uuid
from collections.abc import Sequence
from typing import Any

import redis.asyncio as redis
from redis.exceptions import ResponseError

from quantdesk.domain.signal_routing import SignalEnvelope
from quantdesk.domain.signals import AISignal
from quantdesk.services.ports import ReceivedSignal

GROUP = "quantdesk"
FIELD = "envelope"


class RedisSignalBus:
    """``SignalBus`` on Redis Streams with consumer groups and acknowledgements."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "quantdesk:signals",
        claim_idle_s: float = 30.0,
        worker: str | None = None,
    ) -> None:
        self._client: redis.Redis = redis.Redis.from_url(url, decode_responses=True)
        self._prefix = prefix
        self._claim_idle_ms = int(claim_idle_s * 1000)
        self._worker = worker or f"{os.uname().nodename}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._groups: set[str] = set()

    @property
    def durable(self) -> bool:
        return True

    def stream(self, consumer_id: str) -> str:
        return f"{self._prefix}:consumer:{consumer_id}"

    async def _ensure_group(self, stream: str) -> None:
        if stream in self._groups:
            return
        try:
            await self._client.xgroup_create(stream, GROUP, id="0", mkstream=True)
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise
        self._groups.add(stream)

    async def publish(self, envelopes: Sequence[SignalEnvelope]) -> None:
        for envelope in envelopes:
            await self._ensure_group(self.stream(envelope.consumer_id))
        async with self._client.pipeline(transaction=False) as pipe:
            for envelope in envelopes:
                pipe.xadd(self.stream(envelope.consumer_id), {FIELD: _encode(envelope)})
            await pipe.execute()

    async def receive(
        self, consumer_id: str, *, max_count: int, timeout_s: float
    ) -> list[ReceivedSignal]:
        stream = self.stream(consumer_id)
        await self._ensure_group(stream)
        claimed: Any = await self._client.xautoclaim(
            stream, GROUP, self._worker, self._claim_idle_ms, "0-0", count=max_count
        )
        entries: list[tuple[str, dict[str, str]]] = list(claimed[1])
        if not entries:
            block = int(timeout_s * 1000) if timeout_s > 0 else None
            answer: Any = await self._client.xreadgroup(
                GROUP, self._worker, {stream: ">"}, count=max_count, block=block
            )
            for _, items in answer or []:
                entries.extend(items)
        return [
            ReceivedSignal(_decode(fields[FIELD]), entry_id)
            for entry_id, fields in entries
            if fields  # a claimed entry deleted meanwhile comes back empty
        ]

    async def ack(self, consumer_id: str, receipt: str) -> None:
        stream = self.stream(consumer_id)
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.xack(stream, GROUP, receipt)
            pipe.xdel(stream, receipt)
            await pipe.execute()

    async def pending(self, consumer_id: str) -> int:
        return int(await self._client.xlen(self.stream(consumer_id)))

    async def delete_streams(self) -> None:
        """Remove every stream under the prefix (tests and resets)."""
        keys = [key async for key in self._client.scan_iter(match=f"{self._prefix}:*")]
        if keys:
            await self._client.delete(*keys)
        self._groups.clear()

    async def close(self) -> None:
        await self._client.aclose()


def _encode(envelope: SignalEnvelope) -> str:
    return json.dumps(
        {
            "signal": envelope.signal.canonical_json(),
            "consumer_id": envelope.consumer_id,
            "correlation_id": envelope.correlation_id,
            "published_at_ns": envelope.published_at_ns,
        },
        separators=(",", ":"),
    )


def _decode(text: str) -> SignalEnvelope:
    record: dict[str, Any] = json.loads(text)
    return SignalEnvelope(
        signal=AISignal.model_validate_json(record["signal"]),
        consumer_id=record["consumer_id"],
        correlation_id=record["correlation_id"],
        published_at_ns=int(record["published_at_ns"]),
    )
