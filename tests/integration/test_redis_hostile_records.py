"""Records on the Redis signal bus that are not envelopes: each set aside alone, with its
reason, and acknowledged; the good records around them are delivered."""

import asyncio
import json
import uuid

import pytest
import redis.asyncio as redis

from quantdesk.adapters.messaging.redis_streams import FIELD, RedisSignalBus
from quantdesk.domain.signal_routing import SignalEnvelope
from support.environment import require_service
from support.signals import signal

pytestmark = pytest.mark.services
URL = "redis://127.0.0.1:6379/0"


def envelope_text(**changes: object) -> str:
    made = SignalEnvelope(signal(), "delta", "corr", 1)
    record = {
        "signal": made.signal.canonical_json(),
        "consumer_id": made.consumer_id,
        "correlation_id": made.correlation_id,
        "published_at_ns": made.published_at_ns,
        **changes,
    }
    return json.dumps(record)


def test_hostile_records_are_set_aside_and_the_rest_delivered() -> None:
    require_service("127.0.0.1", 6379, "Redis")
    prefix = f"quantdesk-test:{uuid.uuid4().hex}"

    async def go() -> None:
        bus = RedisSignalBus(URL, prefix=prefix)
        raw = redis.Redis.from_url(URL)  # bytes in, as any writer could
        stream = bus.stream("delta")
        good = [SignalEnvelope(signal(), "delta", "corr", n) for n in range(2)]
        hostile: list[dict[bytes | str, bytes | str]] = [
            {FIELD: b'{"signal": "caf\xe9"}'},
            {FIELD: b"[" * 100_000 + b"]" * 100_000},
            {FIELD: envelope_text(published_at_ns=int("9" * 200))},
            {FIELD: b'{"published_at_ns": ' + b"1" * 5000 + b"}"},
            {FIELD: envelope_text(signal=json.dumps({"signal_id": "x"}))},
            {"other": b"no envelope here"},
        ]
        try:
            await bus.publish(good[:1])
            for fields in hostile:
                await raw.xadd(stream, fields)  # type: ignore[arg-type]
            await bus.publish(good[1:])
            taken = await bus.receive("delta", max_count=20, timeout_s=0.5)
            assert [t.envelope for t in taken] == good
            rejected = await bus.rejected("delta")
            assert [r["reason"] for r in rejected] == [
                "not_utf8",
                "nesting_too_deep",
                "number_too_long",
                "number_too_long",
                "malformed",
                "malformed",
            ]
            assert "\\xe9" in rejected[0][FIELD]
            assert all(r["entry_id"] and r["detail"] for r in rejected)
            assert await bus.pending("delta") == 2  # the rejects are acknowledged and gone
            for t in taken:
                await bus.ack("delta", t.receipt)
            assert await bus.pending("delta") == 0
        finally:
            await bus.delete_streams()
            await bus.close()
            await raw.aclose()

    asyncio.run(go())
