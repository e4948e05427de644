"""What ``/signals`` takes and answers.

A posted signal is a plain JSON object: the desk's gate judges it (shape, known instrument,
duplicate id, staleness) exactly as it judges a line of a signal file, and counts what it
turns away; a schema in front of it would refuse records the gate should have counted.
"""

from dataclasses import asdict
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from quantdesk.domain.signal_routing import DeadLetter, RejectedSignal, SignalStatsRow
from quantdesk.domain.signals import AISignal

BATCH_MAX = 1000
RECORD_KEYS_MAX = 64

SignalRecordIn = Annotated[
    dict[str, JsonValue],
    Field(max_length=RECORD_KEYS_MAX, description="one signal record, as in a JSON-lines file"),
]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SignalBatchIn(_Model):
    records: list[SignalRecordIn] = Field(min_length=1, max_length=BATCH_MAX)


class RecordRejection(_Model):
    """Why one record was turned away (``index`` in the batch, from 0)."""

    index: int = Field(ge=0)
    reason: str = Field(description="e.g. unknown_instrument, duplicate_id, out_of_range")
    field: str
    value: str
    detail: str

    @classmethod
    def of(cls, record: RejectedSignal) -> "RecordRejection":
        return cls(
            index=record.row - 1,
            reason=record.reason,
            field=record.field,
            value=record.value,
            detail=record.detail,
        )


class SignalRouted(_Model):
    """A signal accepted on the live path: buffered, then published to its consumers."""

    signal: AISignal
    consumers: list[str] = Field(description="the consumers it was published to")
    correlation_id: str


class SignalBatchOut(_Model):
    """A batch ingested like a signal file: the counts add up as the CLI's do."""

    records_read: int
    accepted: int
    rejected: int
    rejected_by_reason: dict[str, int]
    already_buffered: int = Field(description="rejected as duplicate_id: the buffer held them")
    already_rejected: int = Field(description="rejected before by an earlier, identical batch")
    first_ts_init: int | None
    last_ts_init: int | None
    rejections: list[RecordRejection] = Field(description="every record turned away, in order")


class SignalStatsOut(_Model):
    signal_type: str
    source_model: str
    accepted: int
    rejected: dict[str, int]
    delivered: int
    dead_lettered: int

    @classmethod
    def of(cls, row: SignalStatsRow) -> "SignalStatsOut":
        return cls(**asdict(row))


class DeadLetterOut(_Model):
    dead_letter_id: str
    consumer_id: str
    signal: AISignal
    correlation_id: str
    reason: str
    attempts: int
    dead_lettered_at_ns: int
    replayed_at_ns: int | None

    @classmethod
    def of(cls, letter: DeadLetter) -> "DeadLetterOut":
        return cls(
            dead_letter_id=letter.dead_letter_id,
            consumer_id=letter.consumer_id,
            signal=letter.signal,
            correlation_id=letter.correlation_id,
            reason=letter.reason,
            attempts=letter.attempts,
            dead_lettered_at_ns=letter.dead_lettered_at_ns,
            replayed_at_ns=letter.replayed_at_ns,
        )
