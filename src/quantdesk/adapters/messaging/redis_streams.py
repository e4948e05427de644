"""Signals across processes: one Redis stream per consumer, read through a consumer group.

``<prefix>:consumer:<consumer id>`` holds the consumer's envelopes (one field ``envelope``,
JSON). Every process running that consumer reads with ``XREADGROUP`` in the group
``quantdesk`` (so several workers share the load), and acknowledges with ``XACK`` and
``XDEL`` in one transaction: the stream's length is exactly what is still pending. An
envelope read by a worker that died is claimed by another after ``claim_idle_s``.

Anyone who can write to Redis can put a record on a stream, so each record is read within
the document limits and judged alone: one that is not UTF-8, not JSON, too deep, with a huge
number or not an envelope is moved to ``<prefix>:rejected:<consumer id>`` (with its reason
code, detail and entry id) and acknowledged, so it neither crashes the reader nor blocks the
records after it.
"""

import json
import logging
import os
import uuid
from collections.abc import Sequence
from typing import Any

import redis.asyncio as redis
from redis.exceptions import ResponseError

from quantdesk.domain.documents import (
    DEFAULT_LIMITS,
    DocumentLimitError,
    DocumentLimits,
    loads_json,
)
from quantdesk.domain.signal_routing import SignalEnvelope
from quantdesk.domain.signals import AISignal
from quantdesk.services.ports import ReceivedSignal

GROUP = "quantdesk"
FIELD = "envelope"
SHOWN_CHARS = 2000
"""Characters of a rejected record kept with it: enough to find its writer."""
REJECTED_KEPT = 10_000
"""Rejected records kept per consumer (the stream is trimmed beyond)."""

log = logging.getLogger(__name__)


class BadRecordError(Exception):
    """A stream record that is not a signal envelope; ``reason`` is its code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class RedisSignalBus:
    """``SignalBus`` on Redis Streams with consumer groups and acknowledgements."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "quantdesk:signals",
        claim_idle_s: float = 30.0,
        worker: str | None = None,
        limits: DocumentLimits = DEFAULT_LIMITS,
    ) -> None:
        # Bytes that are not UTF-8 come back as lone surrogates, so one bad record is that
        # record's reject instead of an error for the whole read.
        self._client: redis.Redis = redis.Redis.from_url(
            url, decode_responses=True, encoding_errors="surrogateescape"
        )
        self._limits = limits
        self._prefix = prefix
        self._claim_idle_ms = int(claim_idle_s * 1000)
        self._worker = worker or f"{os.uname().nodename}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._groups: set[str] = set()

    @property
    def durable(self) -> bool:
        return True

    def stream(self, consumer_id: str) -> str:
        return f"{self._prefix}:consumer:{consumer_id}"

    def rejected_stream(self, consumer_id: str) -> str:
        return f"{self._prefix}:rejected:{consumer_id}"

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
        received = []
        for entry_id, fields in entries:
            if not fields:  # a claimed entry deleted meanwhile comes back empty
                continue
            try:
                received.append(ReceivedSignal(_decode(fields, self._limits), entry_id))
            except BadRecordError as rejected:
                await self._reject(consumer_id, entry_id, fields, rejected)
        return received

    async def rejected(self, consumer_id: str) -> list[dict[str, str]]:
        """The records set aside for ``consumer_id``, oldest first."""
        entries: Any = await self._client.xrange(self.rejected_stream(consumer_id))
        return [dict(fields) for _, fields in entries]

    async def _reject(
        self, consumer_id: str, entry_id: str, fields: dict[str, str], rejected: BadRecordError
    ) -> None:
        stream = self.stream(consumer_id)
        text = _shown(str(fields.get(FIELD, json.dumps(sorted(fields)))))
        kept: dict[Any, Any] = {
            "entry_id": entry_id,
            "reason": rejected.reason,
            "detail": rejected.detail,
        }
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.xadd(
                self.rejected_stream(consumer_id),
                {**kept, FIELD: text},
                maxlen=REJECTED_KEPT,
                approximate=True,
            )
            pipe.xack(stream, GROUP, entry_id)
            pipe.xdel(stream, entry_id)
            await pipe.execute()
        log.warning("signal bus record %s on %s rejected: %s", entry_id, stream, rejected.detail)

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


def _decode(fields: dict[str, str], limits: DocumentLimits) -> SignalEnvelope:
    text = fields.get(FIELD)
    if text is None:
        raise BadRecordError("malformed", f"the record has no {FIELD!r} field")
    if any("\udc80" <= char <= "\udcff" for char in text):
        raise BadRecordError("not_utf8", "the record is not UTF-8 text")
    try:
        record = loads_json(text, limits)
        if not isinstance(record, dict):
            raise BadRecordError("malformed", "an envelope must be a JSON object")
        signal = record.get("signal")
        if not isinstance(signal, str):
            raise BadRecordError("malformed", "the envelope's signal must be JSON text")
        loads_json(signal, limits)  # the same bounds before pydantic reads it
        consumer_id, correlation_id = record.get("consumer_id"), record.get("correlation_id")
        published = record.get("published_at_ns")
        if not isinstance(consumer_id, str) or not isinstance(correlation_id, str):
            raise BadRecordError("malformed", "consumer_id and correlation_id must be text")
        if not isinstance(published, int) or isinstance(published, bool):
            raise BadRecordError("malformed", "published_at_ns must be an integer")
        return SignalEnvelope(
            signal=AISignal.model_validate_json(signal),
            consumer_id=consumer_id,
            correlation_id=correlation_id,
            published_at_ns=published,
        )
    except DocumentLimitError as error:
        raise BadRecordError(error.reason, error.message) from None
    except ValueError as error:  # pydantic's ValidationError: not a valid signal
        raise BadRecordError("malformed", f"not a valid signal: {_shown(str(error))}") from None


def _shown(text: str) -> str:
    cut = text[:SHOWN_CHARS]
    return cut.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
