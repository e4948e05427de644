"""Publishing service events, and the channel that carries them between server processes."""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from pydantic import JsonValue

from quantdesk.domain.events import EventType, ServiceEvent


class EventPublisher(Protocol):
    """Where use cases (jobs, registry, risk, signals) announce what happened.

    Never blocks on a consumer: a slow or absent client costs the publisher nothing.
    The correlation id is taken from the caller's context (``current_correlation_id``).
    """

    def publish(
        self,
        type: EventType,
        payload: Mapping[str, JsonValue],
        *,
        subject: str | None = None,
    ) -> None: ...


@dataclass(frozen=True)
class EventDraft:
    """An event before the channel gives it its place in the sequence."""

    type: EventType
    at_ns: int
    subject: str | None
    payload: Mapping[str, JsonValue] = field(default_factory=dict)
    correlation_id: str | None = None

    def numbered(self, seq: int) -> ServiceEvent:
        return ServiceEvent(
            seq=seq,
            type=self.type,
            at_ns=self.at_ns,
            subject=self.subject,
            payload=dict(self.payload),
            correlation_id=self.correlation_id,
        )


EventSink = Callable[[ServiceEvent], None]
"""Receives every numbered event, in ``seq`` order, on the channel's own thread."""


class EventChannel(Protocol):
    """Numbers events and carries them to every hub that listens (this process's too).

    In process: a counter and a direct call. Across processes (``uvicorn --workers N``):
    one shared counter and pub/sub, so every server process sees every event under the same
    ``seq``. ``send`` must not wait on a listener (it may queue and drop under overload,
    counting what it dropped).
    """

    def open(self, sink: EventSink) -> None:
        """Start delivering events to ``sink``; called once, before the first ``send``."""
        ...

    def send(self, draft: EventDraft) -> None: ...

    def replay(self, after_seq: int, limit: int) -> Sequence[ServiceEvent]:
        """Events after ``after_seq`` still held in the channel's shared history, oldest first
        (empty when the channel keeps none beyond what its listeners saw)."""
        ...

    def dropped(self) -> int:
        """Events the channel could not carry (overload, a lost connection)."""
        ...

    def close(self) -> None: ...
