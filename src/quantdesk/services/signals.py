"""AI signals at rest: the gate every signal passes, ingest of signal files, the buffer's views.

A file's signals are validated one by one (``validate_signal``: shape, then the world as it
is now: known instruments, ids already buffered or earlier in the same file, producers'
declared max ages), the accepted ones appended to the buffer and flushed into the catalog,
the rejected ones kept with row, field, value and reason. Live routing is in
:mod:`quantdesk.services.signal_routing`; both share one :class:`SignalGate`.

An ingest holds the buffer's exclusive lock from judging to buffering, so concurrent
ingests of one file accept each signal once. Its rejects are kept before its signals are
buffered, each keyed by source, row and text: a crash after the signals are buffered has
kept the rejects too, and ingesting the file again adds neither.
"""

import builtins
import contextlib
import hashlib
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from quantdesk.domain.errors import InvalidInputError, NotFoundError, NothingValidError
from quantdesk.domain.instruments import require_instrument_id
from quantdesk.domain.signal_routing import (
    DeadLetter,
    RejectedSignal,
    SignalEvent,
    SignalEventKind,
    SignalIngestSummary,
    SignalStatsRow,
    rejection_event,
)
from quantdesk.domain.signals import (
    NS_PER_SECOND,
    AISignal,
    SignalRejection,
    SignalRejectReason,
    SignalType,
    SignalValidationContext,
    canonical_signal_id,
    check_signal,
    validate_signal,
)
from quantdesk.domain.text import shown
from quantdesk.services.ports import (
    DeadLetterStore,
    MarketDataCatalog,
    SignalEventSink,
    SignalRecord,
    SignalRecordSource,
    SignalRejectStore,
    SignalStore,
)

Clock = Callable[[], int]
UNKNOWN = "?"


LIST_LIMIT_MAX = 1_000_000
"""The most signals one listing returns (the engine reads them with a C long)."""


class KnownInstruments(Collection[str]):
    """The catalog's instrument ids, reloaded on a miss at most once a second."""

    def __init__(self, load: Callable[[], Iterable[str]], clock: Clock = time.time_ns) -> None:
        self._load = load
        self._clock = clock
        self._ids: frozenset[str] | None = None  # first use: bootstrapping reads nothing
        self._loaded_at = 0

    def _current(self) -> frozenset[str]:
        if self._ids is None:
            self._ids, self._loaded_at = frozenset(self._load()), self._clock()
        return self._ids

    def __contains__(self, item: object) -> bool:
        if item in self._current():
            return True
        now = self._clock()
        if now - self._loaded_at >= NS_PER_SECOND:
            self._ids, self._loaded_at = frozenset(self._load()), now
        return item in self._current()

    def __iter__(self) -> Iterator[str]:
        return iter(self._current())

    def __len__(self) -> int:
        return len(self._current())


def catalog_instruments(catalog: MarketDataCatalog) -> Callable[[], list[str]]:
    return lambda: [spec.instrument_id for spec in catalog.instruments()]


class SignalGate:
    """The one validation every signal passes, file or live, with the world's state now."""

    def __init__(
        self,
        store: SignalStore,
        instruments: Collection[str],
        *,
        clock: Clock = time.time_ns,
        max_age_ns: Mapping[str, int] | None = None,
        future_tolerance_ns: int = 5 * NS_PER_SECOND,
    ) -> None:
        self._store = store
        self._instruments = instruments
        self._clock = clock
        self._max_age_ns: dict[str, int] = dict(max_age_ns or {})
        self._future_tolerance_ns = future_tolerance_ns

    def declare_producer(self, source_model: str, max_age_ns: int) -> None:
        """A producer's signals older than this (ts_init - ts_event) are stale."""
        if max_age_ns <= 0:
            raise InvalidInputError(f"max age of {source_model} must be positive")
        self._max_age_ns[source_model] = max_age_ns

    def context(self, also_seen: Collection[str] = ()) -> SignalValidationContext:
        store = self._store

        def is_duplicate(signal_id: str) -> bool:
            return signal_id in also_seen or store.contains(signal_id)

        return SignalValidationContext(
            now_ns=self._clock(),
            known_instruments=self._instruments,
            is_duplicate=is_duplicate,
            future_tolerance_ns=self._future_tolerance_ns,
            max_age_ns=self._max_age_ns,
        )

    def check(
        self, candidate: AISignal | Mapping[str, Any], also_seen: Collection[str] = ()
    ) -> AISignal | SignalRejection:
        context = self.context(also_seen)
        if isinstance(candidate, AISignal):
            return check_signal(candidate, context)
        return validate_signal(candidate, context)


def rejected_record(
    rejection: SignalRejection,
    *,
    source: str,
    row: int,
    raw_text: str,
    raw: Mapping[str, Any] | None,
    at_ns: int,
    key: str | None = None,
) -> RejectedSignal:
    raw = raw or {}
    signal_type, source_model = raw.get("signal_type"), raw.get("source_model")
    return RejectedSignal(
        source=source,
        row=row,
        raw=raw_text,
        reason=rejection.reason.value,
        field=rejection.field,
        value=rejection.value,
        detail=rejection.detail,
        signal_id=rejection.signal_id,
        signal_type=signal_type if isinstance(signal_type, str) else None,
        source_model=source_model if isinstance(source_model, str) else None,
        at_ns=at_ns,
        key=key,
    )


def reject_key(source: str, row: int, raw_text: str) -> str:
    """Where a record was read and what it said: the same line read again, the same key."""
    return hashlib.sha256(f"{source}\0{row}\0{raw_text}".encode()).hexdigest()


def new_batch_id(prefix: str) -> str:
    return f"{prefix}-{datetime.now(tz=UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class SignalBatch:
    """An ingest's summary and every record it turned away, in order (the service answers
    each record of a batch with its reason)."""

    summary: SignalIngestSummary
    rejected: list[RejectedSignal]
    refusal: NothingValidError | None = None  # nothing accepted, something newly refused


class SignalService:
    """Signal files in, the buffer's contents and counts out."""

    def __init__(
        self,
        store: SignalStore,
        source: SignalRecordSource,
        gate: SignalGate,
        rejects: SignalRejectStore,
        dead_letters: DeadLetterStore,
        events: SignalEventSink,
        *,
        clock: Clock = time.time_ns,
    ) -> None:
        self._store = store
        self._source = source
        self._gate = gate
        self._rejects = rejects
        self._dead_letters = dead_letters
        self._events = events
        self._clock = clock

    @property
    def gate(self) -> SignalGate:
        return self._gate

    def declare_producer(self, source_model: str, max_age_ns: int) -> None:
        self._gate.declare_producer(source_model, max_age_ns)

    def ingest_file(self, path: Path | str) -> SignalIngestSummary:
        """Validate a signal file; buffer what passes (flushed to the catalog), keep the rest.

        Raises ``SourceReadError`` when the file cannot be read, ``NothingValidError`` when
        no record passes.
        """
        path = Path(path)
        records = self._source.read_signals(path)
        return self.ingest_records(records, source=str(path.resolve()))

    def ingest_records(self, records: list[SignalRecord], *, source: str) -> SignalIngestSummary:
        """Exit states: something new accepted, or nothing new (every record buffered or
        rejected before) are successes; ``NothingValidError`` when nothing was accepted and
        some record is newly rejected for a reason other than being buffered already."""
        batch = self.ingest_batch(records, source=source)
        if batch.refusal is not None:
            raise batch.refusal
        return batch.summary

    def ingest_batch(self, records: list[SignalRecord], *, source: str) -> SignalBatch:
        """``ingest_records`` answering with each rejected record, and the refusal it would
        raise (``refusal``) instead of raising it."""
        batch_id = new_batch_id("ingest")
        accepted: list[AISignal] = []
        seen: set[str] = set()
        rejected: list[RejectedSignal] = []
        with self._store.exclusive():
            for record in records:
                outcome = self._judge(record, seen)
                if isinstance(outcome, AISignal):
                    accepted.append(outcome)
                    seen.add(outcome.signal_id)
                    continue
                rejected.append(
                    rejected_record(
                        outcome,
                        source=source,
                        row=record.row,
                        raw_text=record.raw_text,
                        raw=record.raw,
                        at_ns=self._clock(),
                        key=reject_key(source, record.row, record.raw_text),
                    )
                )
            known = self._rejects.keys() if rejected else set()
            fresh = [r for r in rejected if r.key not in known]
            rejects_path = self._rejects.record(batch_id, fresh)  # kept before accepting
            self._store.append(accepted)
            self._store.flush()
        for signal in accepted:
            self._emit(SignalEventKind.ACCEPTED, signal, batch_id)
        for r in fresh:
            self._events.emit(rejection_event(r, batch_id, self._clock(), with_row=True))
        self._events.flush()
        buffered = [
            r.reason == SignalRejectReason.DUPLICATE_ID.value and r.signal_id not in seen
            for r in rejected
        ]  # the id was in the buffer before this ingest
        refused = [r for r in fresh if r.reason != SignalRejectReason.DUPLICATE_ID.value]
        refusal = None
        if not records or (not accepted and refused):
            refusal = NothingValidError(
                _nothing_valid(source, len(records), rejected),
                hint=f"see the rejected records in {rejects_path}"
                if rejects_path
                else "the file holds no signal records",
            )
        stamps = [s.ts_init for s in accepted]
        summary = SignalIngestSummary(
            source=source,
            records_read=len(records),
            accepted=len(accepted),
            rejected=len(rejected),
            rejected_by_reason=dict(sorted(Counter(r.reason for r in rejected).items())),
            rejects_path=str(rejects_path) if rejects_path else None,
            first_ts_init=min(stamps, default=None),
            last_ts_init=max(stamps, default=None),
            already_rejected=sum(
                r.key in known and not b for r, b in zip(rejected, buffered, strict=True)
            ),
            already_buffered=sum(buffered),
        )
        return SignalBatch(summary, rejected, refusal)

    def _judge(self, record: SignalRecord, seen: Collection[str]) -> AISignal | SignalRejection:
        if record.raw is None:
            known = record.error_reason in SignalRejectReason.__members__.values()
            return SignalRejection(
                SignalRejectReason(record.error_reason) if known else SignalRejectReason.MALFORMED,
                record.error_field,
                record.raw_text[:200],
                record.error or "not a signal record",
            )
        return self._gate.check(record.raw, seen)

    def _emit(self, kind: SignalEventKind, signal: AISignal, correlation_id: str) -> None:
        self._events.emit(
            SignalEvent(
                kind=kind,
                signal_id=signal.signal_id,
                correlation_id=correlation_id,
                at_ns=self._clock(),
                signal_type=signal.signal_type.value,
                source_model=signal.source_model,
                instrument_id=signal.instrument_id,
            )
        )

    def list(
        self,
        *,
        signal_type: str | None = None,
        instrument_id: str | None = None,
        start_ns: int | None = None,
        end_ns: int | None = None,
        limit: int | None = 50,
    ) -> list[AISignal]:
        """Buffered signals in ``ts_init`` order."""
        if limit is not None and not 1 <= limit <= LIST_LIMIT_MAX:
            raise InvalidInputError(
                f"limit {shown(str(limit))} is outside 1 .. {LIST_LIMIT_MAX:,}",
                hint="ask for fewer signals, or page by time range",
            )
        if signal_type is not None:
            try:
                signal_type = SignalType(signal_type.upper()).value
            except ValueError as error:
                raise InvalidInputError(
                    f"unknown signal type {signal_type!r}",
                    hint=f"one of {', '.join(t.value for t in SignalType)}",
                ) from error
        return self._store.query(
            signal_types=[signal_type] if signal_type else None,
            instrument_ids=[require_instrument_id(instrument_id)] if instrument_id else None,
            start_ns=start_ns,
            end_ns=end_ns,
            limit=limit,
        )

    def show(self, signal_id: str) -> AISignal:
        with contextlib.suppress(ValueError):  # not a uuid: reported as not found below
            signal_id = canonical_signal_id(signal_id)
        signal = self._store.get(signal_id)
        if signal is None:
            raise NotFoundError(
                f"no signal {signal_id!r} in the buffer", hint="quantdesk signals list"
            )
        return signal

    def stats(self) -> builtins.list[SignalStatsRow]:
        """Per (type, source): accepted, rejected by reason, delivered, dead-lettered."""
        accepted = self._store.counts()
        rejected: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        for r in [*self._rejects.rejected(), *self._store.quarantined()]:
            rejected[(r.signal_type or UNKNOWN, r.source_model or UNKNOWN)][r.reason] += 1
        dead: Counter[tuple[str, str]] = Counter(
            (d.signal.signal_type.value, d.signal.source_model)
            for d in self._dead_letters.letters(include_replayed=True)
        )
        delivered = self._events.counts(SignalEventKind.DELIVERED)
        keys = sorted({*accepted, *rejected, *dead, *delivered})
        return [
            SignalStatsRow(
                signal_type=key[0],
                source_model=key[1],
                accepted=accepted.get(key, 0),
                rejected=dict(sorted(rejected.get(key, Counter()).items())),
                delivered=delivered.get(key, 0),
                dead_lettered=dead.get(key, 0),
            )
            for key in keys
        ]

    def dead_letters(self, *, include_replayed: bool = False) -> builtins.list[DeadLetter]:
        return self._dead_letters.letters(include_replayed=include_replayed)

    def flush(self) -> int:
        """Make every buffered signal visible to replay (the catalog)."""
        self._events.flush()
        return self._store.flush()


def _nothing_valid(source: str, records: int, rejected: list[RejectedSignal]) -> str:
    if records == 0:
        return f"{source}: no signal records"
    top = Counter(r.reason for r in rejected).most_common(3)
    first = rejected[0]
    reasons = ", ".join(f"{reason} x{n}" for reason, n in top)
    return (
        f"{source}: none of {records} records is valid ({reasons}); first at row {first.row}: "
        f"{first.field}={first.value}: {first.detail}"
    )
