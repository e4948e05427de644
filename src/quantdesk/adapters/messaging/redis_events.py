"""Service events across server processes: one Redis counter, one history, one pub/sub channel.

A Lua script does, atomically: ``INCR <prefix>:seq``, ``ZADD <prefix>:history`` (score = seq,
trimmed to the newest ``history_size``) and ``PUBLISH <prefix>:live``. Redis runs scripts one
at a time, so the order of publication is the order of ``seq`` and every subscribed process
receives the same gap-free sequence, whichever process published.

- Publishing never waits on Redis: ``send`` appends to a bounded outbox that a sender thread
  drains; an overflowing outbox (Redis slow or down) loses its oldest drafts, counted.
- A listener thread receives the live channel. When the sequence jumps (its connection was
  lost for a while), it fills the gap from the history before delivering, so the hub sees
  the sequence without holes as long as the history reaches back.
- Resume across processes: ``replay(after_seq)`` reads the shared history
  (``ZRANGEBYSCORE``), so a client reconnecting to another process, or to one started after
  its last event, still gets what it missed.

Anyone who can write to Redis can publish, so each message is parsed within document limits
and validated; one that is not an event is logged and skipped.
"""

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

import redis
from pydantic import ValidationError
from redis.exceptions import RedisError

from quantdesk.domain.documents import DocumentLimitError, DocumentLimits, loads_json
from quantdesk.domain.events import ServiceEvent
from quantdesk.services.ports.events import EventDraft, EventSink

OUTBOX_SIZE = 10_000
"""Drafts waiting for Redis; beyond that the oldest are dropped (and counted)."""
MESSAGE_LIMITS = DocumentLimits(max_bytes=1_000_000, max_depth=32, max_nodes=100_000)
POLL_S = 0.2
"""How long the listener waits for a message before checking whether it should stop."""
RETRY_S = 0.5
CONNECT_TIMEOUT_S = 2.0
COMMAND_TIMEOUT_S = 5.0

_SCRIPT = """
local seq = redis.call('INCR', KEYS[1])
local message = seq .. ' ' .. ARGV[1]
redis.call('ZADD', KEYS[2], seq, message)
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -tonumber(ARGV[2]) - 1)
redis.call('PUBLISH', KEYS[3], message)
return seq
"""

log = logging.getLogger(__name__)


class RedisEventChannel:
    """``EventChannel`` over Redis: every server process sees every event under one ``seq``."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "quantdesk:events",
        history_size: int = 10_000,
        outbox_size: int = OUTBOX_SIZE,
    ) -> None:
        if history_size < 1 or outbox_size < 1:
            raise ValueError("history and outbox sizes must be positive")
        self._client: redis.Redis = redis.Redis.from_url(
            url,
            decode_responses=True,
            encoding_errors="surrogateescape",
            socket_connect_timeout=CONNECT_TIMEOUT_S,
            socket_timeout=COMMAND_TIMEOUT_S,
            health_check_interval=30,
        )
        self._seq_key = f"{prefix}:seq"
        self._history_key = f"{prefix}:history"
        self._live_key = f"{prefix}:live"
        self._history_size = history_size
        self._script = self._client.register_script(_SCRIPT)
        self._outbox: deque[EventDraft] = deque()
        self._outbox_size = outbox_size
        self._wakeup = threading.Condition()
        self._dropped = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sink: EventSink | None = None
        self._last_seq: int | None = None

    def open(self, sink: EventSink) -> None:
        """Subscribe (confirmed before returning, so this process's own next event is seen),
        then start the sender and listener threads. With Redis unreachable it returns all
        the same (logged): the listener keeps trying, and what is sent meanwhile is dropped
        and counted rather than raised at a publisher."""
        self._sink = sink
        try:
            pubsub: Any = self._subscribed()
            self._last_seq = int(self._client.get(self._seq_key) or 0)  # the sequence so far
        except (RedisError, ValueError) as error:
            log.warning("event channel not subscribed yet (Redis %s)", type(error).__name__)
            pubsub = None
        for target, name in ((self._send_loop, "sender"), (self._listen_loop, "listener")):
            args = (pubsub,) if name == "listener" else ()
            thread = threading.Thread(target=target, args=args, name=f"events-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def send(self, draft: EventDraft) -> None:
        with self._wakeup:
            if len(self._outbox) >= self._outbox_size:
                self._outbox.popleft()
                self._dropped += 1
            self._outbox.append(draft)
            self._wakeup.notify()

    def replay(self, after_seq: int, limit: int) -> Sequence[ServiceEvent]:
        try:
            messages = self._client.zrangebyscore(
                self._history_key, f"({after_seq}", "+inf", start=0, num=limit
            )
        except RedisError as error:
            log.warning("event history unavailable: %s", type(error).__name__)
            return ()
        return [event for event in map(_parse, messages) if event is not None]

    def dropped(self) -> int:
        with self._wakeup:
            return self._dropped

    def close(self) -> None:
        self._stop.set()
        with self._wakeup:
            self._wakeup.notify_all()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()
        self._client.close()

    def _subscribed(self) -> Any:
        pubsub = self._client.pubsub(ignore_subscribe_messages=False)  # type: ignore[no-untyped-call]
        try:
            pubsub.subscribe(self._live_key)
            deadline = time.monotonic() + COMMAND_TIMEOUT_S
            while time.monotonic() < deadline:
                message = pubsub.get_message(timeout=POLL_S)
                if message is not None and message.get("type") == "subscribe":
                    return pubsub
        except RedisError:
            pubsub.close()
            raise
        pubsub.close()
        raise RedisError("no subscription confirmation from Redis")

    def _send_loop(self) -> None:
        while not self._stop.is_set():
            with self._wakeup:
                while not self._outbox and not self._stop.is_set():
                    self._wakeup.wait(timeout=1.0)
                if self._stop.is_set():
                    return
                draft = self._outbox.popleft()
            body = _draft_json(draft)
            try:
                self._script(
                    keys=[self._seq_key, self._history_key, self._live_key],
                    args=[body, self._history_size],
                )
            except RedisError as error:
                with self._wakeup:
                    self._dropped += 1
                log.warning("event not published (Redis %s)", type(error).__name__)
                self._stop.wait(RETRY_S)

    def _listen_loop(self, pubsub: Any) -> None:
        if pubsub is None:
            pubsub = self._resubscribe(None)
        while not self._stop.is_set():
            try:
                message = pubsub.get_message(ignore_subscribe_messages=True, timeout=POLL_S)
            except RedisError as error:
                log.warning(
                    "event subscription lost (Redis %s); reconnecting", type(error).__name__
                )
                pubsub = self._resubscribe(pubsub)
                continue
            if message is None or message.get("type") != "message":
                continue
            event = _parse(message.get("data"))
            if event is not None:
                self._deliver(event)
        if pubsub is not None:
            pubsub.close()

    def _resubscribe(self, pubsub: Any) -> Any:
        if pubsub is not None:
            pubsub.close()
        while not self._stop.is_set():
            try:
                subscribed = self._subscribed()
                if self._last_seq is None:  # never reached Redis before: start from now
                    self._last_seq = int(self._client.get(self._seq_key) or 0)
                return subscribed
            except (RedisError, ValueError):  # ValueError: a seq key that is not a number
                self._stop.wait(RETRY_S)
        return pubsub

    def _deliver(self, event: ServiceEvent) -> None:
        """Deliver in ``seq`` order, first filling a jump from the shared history. The event
        after a jump must be in that history too: one that is not was never written by the
        script (a forged message), and is skipped rather than move the sequence on."""
        assert self._sink is not None
        last = self._last_seq
        if last is not None and event.seq <= last:
            return
        if last is not None and event.seq > last + 1:
            held = self.replay(last, event.seq - last)
            for missing in held:
                if last < missing.seq < event.seq:
                    self._sink(missing)
                    self._last_seq = missing.seq
            if not any(found.seq == event.seq for found in held):
                log.warning("skipped an event of seq %d missing from the history", event.seq)
                return
        self._last_seq = event.seq
        self._sink(event)


def _draft_json(draft: EventDraft) -> str:
    """The event without its ``seq`` (the script prefixes it), as compact JSON."""
    return draft.numbered(1).model_dump_json(exclude={"seq"})


def _parse(message: object) -> ServiceEvent | None:
    """``"<seq> <json>"`` back to an event, or None (logged) for anything else."""
    if not isinstance(message, str):
        return None
    head, _, body = message.partition(" ")
    try:
        if not head.isdigit() or len(head) > 19:
            raise ValueError("no sequence number")
        fields = loads_json(body, MESSAGE_LIMITS)
        if not isinstance(fields, dict):
            raise ValueError("not an object")
        return ServiceEvent.model_validate({**fields, "seq": int(head)})
    except (ValueError, DocumentLimitError, ValidationError) as error:
        log.warning("skipped a message on the event channel that is not an event: %s", error)
        return None
