"""Who receives which signal, what happened to each one, and the numbers that must add up.

Every accepted signal is, for each consumer subscribed to it, in exactly one state at any
time: delivered, dead-lettered or pending (queued, in flight or waiting for a retry). The
router and the consumers keep those counts; ``ConsumerAccount.balanced`` is the invariant.
"""

from dataclasses import dataclass, field
from enum import StrEnum

from quantdesk.domain.signals import AISignal

WILDCARD = "*"


class SignalEventKind(StrEnum):
    """Every interaction a signal has with quantdesk, logged as one structured event."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    PUBLISHED = "published"  # handed to the bus for one consumer
    CONSUMED = "consumed"  # taken from the bus by the consumer (an attempt starts)
    DELIVERED = "delivered"  # the consumer's handler took it; acknowledged
    RETRY = "retry"
    DEAD_LETTERED = "dead_lettered"
    REPLAYED = "replayed"  # put back on the bus from the dead-letter store


@dataclass(frozen=True, slots=True)
class SignalEvent:
    """One line of the signal log; ``fields`` holds plain, non-secret details."""

    kind: SignalEventKind
    signal_id: str | None
    correlation_id: str
    at_ns: int
    signal_type: str | None = None
    source_model: str | None = None
    instrument_id: str | None = None
    consumer_id: str | None = None
    fields: dict[str, str | int | float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Subscription:
    """A consumer wants signals of ``signal_type`` on ``instrument_id``; ``*`` matches any."""

    signal_type: str
    instrument_id: str

    def matches(self, signal: AISignal) -> bool:
        return (self.signal_type in (WILDCARD, signal.signal_type.value)) and (
            self.instrument_id in (WILDCARD, signal.instrument_id)
        )


@dataclass(frozen=True, slots=True)
class SignalEnvelope:
    """What travels on the bus: the signal, for whom, and the trace of the interaction."""

    signal: AISignal
    consumer_id: str
    correlation_id: str
    published_at_ns: int


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A signal a consumer could not take after every retry, kept for review and replay."""

    dead_letter_id: str
    consumer_id: str
    signal: AISignal
    correlation_id: str
    reason: str
    attempts: int
    dead_lettered_at_ns: int
    replayed_at_ns: int | None = None


@dataclass(frozen=True, slots=True)
class ConsumerAccount:
    """Per consumer: accepted = delivered + dead-lettered (not replayed) + pending."""

    consumer_id: str
    accepted: int
    delivered: int
    dead_lettered: int
    pending: int

    @property
    def balanced(self) -> bool:
        return self.accepted == self.delivered + self.dead_lettered + self.pending


@dataclass(frozen=True, slots=True)
class RejectedSignal:
    """A record turned away at the gate, with where it came from and why."""

    source: str
    row: int
    raw: str
    reason: str
    field: str
    value: str
    detail: str
    signal_id: str | None
    signal_type: str | None
    source_model: str | None
    at_ns: int
    key: str | None = None
    """Same source, row and text, same key: a file ingested again adds no reject twice."""


def rejection_event(
    record: RejectedSignal, correlation_id: str, at_ns: int, *, with_row: bool
) -> SignalEvent:
    """The log line of a record turned away (its row only when it came from a file)."""
    fields: dict[str, str | int | float] = {"reason": record.reason, "field": record.field}
    if with_row:
        fields["row"] = record.row
    return SignalEvent(
        kind=SignalEventKind.REJECTED,
        signal_id=record.signal_id,
        correlation_id=correlation_id,
        at_ns=at_ns,
        signal_type=record.signal_type,
        source_model=record.source_model,
        fields=fields,
    )


@dataclass(frozen=True, slots=True)
class SignalIngestSummary:
    source: str
    records_read: int
    accepted: int
    rejected: int
    rejected_by_reason: dict[str, int]
    rejects_path: str | None
    first_ts_init: int | None
    last_ts_init: int | None
    already_buffered: int = 0
    """Records whose id the buffer held before this ingest (rejected as ``duplicate_id``)."""
    already_rejected: int = 0
    """Other rejects that an earlier ingest of the same source had recorded (kept once)."""


@dataclass(frozen=True, slots=True)
class SignalStatsRow:
    """Counts for one (signal type, source model) pair; ``rejected`` is by reason."""

    signal_type: str
    source_model: str
    accepted: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    delivered: int = 0
    dead_lettered: int = 0

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())
