"""Signal files, the signal buffer, rejects, dead letters, events and the bus."""

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from quantdesk.domain.backtest import (
    SignalDataUsed,
)
from quantdesk.domain.signal_routing import (
    DeadLetter,
    RejectedSignal,
    SignalEnvelope,
    SignalEvent,
    SignalEventKind,
)
from quantdesk.domain.signals import AISignal


@dataclass(frozen=True)
class SignalRecord:
    """One record of a signal file, not judged yet: the mapping, or why it is not one."""

    row: int
    raw_text: str
    raw: Mapping[str, object] | None
    error: str | None = None
    error_field: str = "record"
    error_reason: str = "malformed"
    """A ``SignalRejectReason`` value: which bound or rule the unreadable record broke."""


class SignalRecordSource(Protocol):
    """Reads signal files (JSON lines, CSV, Parquet) into records without judging them."""

    def read_signals(self, path: Path) -> list[SignalRecord]:
        """Raise ``SourceReadError`` when the file cannot be read at all."""
        ...


class SignalStore(Protocol):
    """The signal buffer: every accepted signal, durable on append, replayable from the catalog."""

    def append(self, signals: Sequence[AISignal]) -> None:
        """Durable against a crash of this process once it returns."""
        ...

    def contains(self, signal_id: str) -> bool: ...

    def get(self, signal_id: str) -> AISignal | None: ...

    def query(
        self,
        *,
        signal_types: Sequence[str] | None = None,
        instrument_ids: Sequence[str] | None = None,
        start_ns: int | None = None,
        end_ns: int | None = None,
        limit: int | None = None,
    ) -> list[AISignal]:
        """Signals in ``ts_init`` order (ties by signal id), bounds inclusive."""
        ...

    def counts(self) -> dict[tuple[str, str], int]:
        """Accepted signals per (signal type, source model)."""
        ...

    def flush(self) -> int:
        """Move the journal into the catalog (what replay reads); returns signals moved."""
        ...

    def replay_data(
        self,
        instrument_id: str,
        signal_types: Sequence[str] | None,
        start_ns: int,
        end_ns: int,
    ) -> SignalDataUsed:
        """What a backtest replays for one instrument (flushed signals only): count, span,
        checksums of the files read."""
        ...

    def close(self) -> None: ...

    def exclusive(self) -> AbstractContextManager[None]:
        """Held by one ingest at a time, across processes: judging to buffering."""
        ...

    def quarantined(self) -> list[RejectedSignal]:
        """Buffered records that could not be stored (set aside, never blocking the rest)."""
        ...


class SignalRejectStore(Protocol):
    def record(self, batch_id: str, rejected: Sequence[RejectedSignal]) -> Path | None:
        """Keep rejected records for review; returns where (None when there were none)."""
        ...

    def rejected(self) -> list[RejectedSignal]:
        """Every kept reject, once per ``key`` (unkeyed ones always)."""
        ...

    def keys(self) -> set[str]:
        """The keys of the rejects kept so far."""
        ...


class DeadLetterStore(Protocol):
    def put(self, letter: DeadLetter) -> None: ...

    def letters(self, *, include_replayed: bool = False) -> list[DeadLetter]: ...

    def mark_replayed(self, dead_letter_id: str, at_ns: int) -> None: ...


class SignalEventSink(Protocol):
    """Where every signal interaction is told: structured, with ids, never with secrets."""

    def emit(self, event: SignalEvent) -> None: ...

    def counts(self, kind: SignalEventKind) -> dict[tuple[str, str], int]:
        """Events of one kind per (signal type, source model), over the whole log."""
        ...

    def flush(self) -> None: ...


@dataclass(frozen=True)
class ReceivedSignal:
    """A signal a consumer took from the bus; ``receipt`` acknowledges it."""

    envelope: SignalEnvelope
    receipt: str


class SignalBus(Protocol):
    """Carries signals from the router to each consumer, which acknowledges what it took."""

    @property
    def durable(self) -> bool:
        """True when queued signals outlive this process (so another process may consume)."""
        ...

    async def publish(self, envelopes: Sequence[SignalEnvelope]) -> None: ...

    async def receive(
        self, consumer_id: str, *, max_count: int, timeout_s: float
    ) -> list[ReceivedSignal]:
        """Up to ``max_count`` signals; waits at most ``timeout_s`` when there are none."""
        ...

    async def ack(self, consumer_id: str, receipt: str) -> None: ...

    async def pending(self, consumer_id: str) -> int:
        """Published to the consumer and not acknowledged yet (queued or in flight)."""
        ...

    async def close(self) -> None: ...
