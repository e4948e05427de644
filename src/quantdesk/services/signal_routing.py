"""The live path: validate, buffer, deliver to every subscribed consumer, lose nothing.

``SignalRouter.route`` passes a signal through the gate, appends it to the buffer (so a
backtest can replay it) and publishes one envelope per subscribed consumer on the bus.
Each ``SignalConsumer`` takes its envelopes, calls its handler and acknowledges; a handler
that fails is retried with exponential backoff and jitter, then the signal goes to the
dead-letter store with the reason and the attempts, from where it can be replayed.

Every accepted signal is, per consumer, delivered, dead-lettered or pending at any time
(``ConsumerAccount``). The counts live in a ``DeliveryLedger`` shared by the router and the
consumers of one process; with a bus that spans processes each process counts its own side.
Per consumer, signals are handled one at a time in the order published (a retry holds the
queue): a strategy never sees a later view before an earlier one.
"""

import asyncio
import inspect
import random
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from quantdesk.domain.errors import InvalidInputError, NotFoundError
from quantdesk.domain.signal_routing import (
    WILDCARD,
    ConsumerAccount,
    DeadLetter,
    SignalEnvelope,
    SignalEvent,
    SignalEventKind,
    Subscription,
    rejection_event,
)
from quantdesk.domain.signals import AISignal, SignalRejection
from quantdesk.services.ports import (
    DeadLetterStore,
    ReceivedSignal,
    SignalBus,
    SignalEventSink,
    SignalRejectStore,
    SignalStore,
)
from quantdesk.services.signals import Clock, SignalGate, rejected_record

Handler = Callable[[SignalEnvelope], Awaitable[None] | None]
Sleep = Callable[[float], Awaitable[None]]
MAX_REASON = 500


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter: attempt n waits in [d/2, d], d = base * 2^(n-1) capped."""

    max_attempts: int = 5
    base_delay_s: float = 0.05
    max_delay_s: float = 2.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.base_delay_s < 0 or self.max_delay_s < 0:
            raise InvalidInputError("retry policy: max_attempts >= 1 and delays >= 0")

    def delay(self, attempt: int, rng: random.Random) -> float:
        ceiling = min(self.max_delay_s, self.base_delay_s * 2.0 ** (attempt - 1))
        return ceiling / 2 + rng.uniform(0.0, ceiling / 2)


@dataclass
class DeliveryLedger:
    """Per consumer counts; pending is what the bus still holds for the consumer."""

    accepted: Counter[str] = field(default_factory=Counter)
    delivered: Counter[str] = field(default_factory=Counter)
    dead_lettered: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class RouteResult:
    """The accepted signal and who it went to, or why it was turned away."""

    correlation_id: str
    signal: AISignal | None
    rejection: SignalRejection | None
    consumers: tuple[str, ...] = ()

    @property
    def accepted(self) -> bool:
        return self.signal is not None


class SignalRouter:
    """Validate -> buffer -> publish to every subscribed consumer."""

    def __init__(
        self,
        gate: SignalGate,
        store: SignalStore,
        bus: SignalBus,
        events: SignalEventSink,
        dead_letters: DeadLetterStore,
        rejects: SignalRejectStore,
        *,
        clock: Clock = time.time_ns,
        policy: RetryPolicy | None = None,
        rng: random.Random | None = None,
        sleep: Sleep = asyncio.sleep,
        ledger: DeliveryLedger | None = None,
    ) -> None:
        self._gate = gate
        self._store = store
        self._bus = bus
        self._events = events
        self._dead_letters = dead_letters
        self._rejects = rejects
        self._clock = clock
        self._policy = policy or RetryPolicy()
        self._rng = rng or random.Random()
        self._sleep = sleep
        self.ledger = ledger or DeliveryLedger()
        self._table: dict[tuple[str, str], set[str]] = {}
        self._subscriptions: dict[str, set[Subscription]] = {}
        self._consumers: dict[str, SignalConsumer] = {}

    @property
    def bus(self) -> SignalBus:
        return self._bus

    # routing table --------------------------------------------------------------------------

    def subscribe(
        self, consumer_id: str, subscriptions: Iterable[Subscription | tuple[str, str]]
    ) -> None:
        """Add (signal type, instrument) pairs for a consumer; ``*`` matches any."""
        if not consumer_id:
            raise InvalidInputError("a consumer needs an id")
        for item in subscriptions:
            sub = item if isinstance(item, Subscription) else Subscription(*item)
            if sub.signal_type != WILDCARD:
                sub = Subscription(sub.signal_type.upper(), sub.instrument_id)
            self._subscriptions.setdefault(consumer_id, set()).add(sub)
            self._table.setdefault((sub.signal_type, sub.instrument_id), set()).add(consumer_id)

    def unsubscribe(self, consumer_id: str) -> None:
        for sub in self._subscriptions.pop(consumer_id, set()):
            self._table.get((sub.signal_type, sub.instrument_id), set()).discard(consumer_id)

    def subscriptions(self) -> dict[str, frozenset[Subscription]]:
        return {c: frozenset(s) for c, s in self._subscriptions.items()}

    def consumers_for(self, signal: AISignal) -> list[str]:
        t, i = signal.signal_type.value, signal.instrument_id
        found: set[str] = set()
        for key in ((t, i), (t, WILDCARD), (WILDCARD, i), (WILDCARD, WILDCARD)):
            found |= self._table.get(key, set())
        return sorted(found)

    # the live path --------------------------------------------------------------------------

    async def route(
        self, candidate: AISignal | Mapping[str, Any], *, correlation_id: str | None = None
    ) -> RouteResult:
        """The signal is buffered before any consumer sees it; rejected ones never route."""
        correlation = correlation_id or uuid.uuid4().hex
        outcome = self._gate.check(candidate)
        if isinstance(outcome, SignalRejection):
            self._reject(candidate, outcome, correlation)
            return RouteResult(correlation, None, outcome)
        signal = outcome
        self._store.append([signal])
        self._emit(SignalEventKind.ACCEPTED, signal, correlation)
        consumers = self.consumers_for(signal)
        if consumers:
            now = self._clock()
            envelopes = [SignalEnvelope(signal, c, correlation, now) for c in consumers]
            try:
                await self._bus.publish(envelopes)
            except Exception as error:  # the bus is down: nothing may vanish
                for envelope in envelopes:
                    self.ledger.accepted[envelope.consumer_id] += 1
                    self._dead_letter(envelope, f"publish failed: {_reason(error)}", 0)
                return RouteResult(correlation, signal, None, tuple(consumers))
            for consumer in consumers:
                self.ledger.accepted[consumer] += 1
                self._emit(SignalEventKind.PUBLISHED, signal, correlation, consumer)
        return RouteResult(correlation, signal, None, tuple(consumers))

    def _reject(
        self, candidate: AISignal | Mapping[str, Any], rejection: SignalRejection, correlation: str
    ) -> None:
        if isinstance(candidate, AISignal):
            raw: Mapping[str, Any] = {
                "signal_type": candidate.signal_type.value,
                "source_model": candidate.source_model,
            }
            text = candidate.canonical_json()
        else:
            raw, text = candidate, repr(dict(candidate))[:2000]
        record = rejected_record(
            rejection, source="router", row=0, raw_text=text, raw=raw, at_ns=self._clock()
        )
        self._rejects.record(f"live-{time.strftime('%Y%m%d', time.gmtime())}", [record])
        self._events.emit(rejection_event(record, correlation, self._clock(), with_row=False))

    # consumers ------------------------------------------------------------------------------

    def consumer(self, consumer_id: str, handler: Handler) -> "SignalConsumer":
        """The receiving side of one consumer in this process, sharing the ledger."""
        made = SignalConsumer(
            consumer_id,
            handler,
            self._bus,
            self.ledger,
            self._dead_letters,
            self._events,
            policy=self._policy,
            rng=self._rng,
            sleep=self._sleep,
            clock=self._clock,
        )
        self._consumers[consumer_id] = made
        return made

    async def account(self, consumer_id: str) -> ConsumerAccount:
        return ConsumerAccount(
            consumer_id=consumer_id,
            accepted=self.ledger.accepted[consumer_id],
            delivered=self.ledger.delivered[consumer_id],
            dead_lettered=self.ledger.dead_lettered[consumer_id],
            pending=await self._bus.pending(consumer_id),
        )

    async def accounts(self) -> list[ConsumerAccount]:
        ids = sorted({*self._subscriptions, *self.ledger.accepted})
        return [await self.account(c) for c in ids]

    # dead letters ---------------------------------------------------------------------------

    async def replay(self, dead_letter_ids: Sequence[str] | None = None) -> list[DeadLetter]:
        """Put dead letters back on the bus (all of them when no id is given)."""
        letters = self._dead_letters.letters()
        if dead_letter_ids is not None:
            wanted = set(dead_letter_ids)
            chosen = [
                d for d in letters if d.dead_letter_id in wanted or d.signal.signal_id in wanted
            ]
            missing = (
                wanted - {d.dead_letter_id for d in chosen} - {d.signal.signal_id for d in chosen}
            )
            if missing:
                raise NotFoundError(
                    f"no dead letter {', '.join(sorted(missing))} waiting for replay",
                    hint="quantdesk signals dlq list",
                )
            letters = chosen
        for letter in letters:
            if not self._bus.durable and letter.consumer_id not in self._consumers:
                raise InvalidInputError(
                    f"consumer {letter.consumer_id!r} does not run in this process and the "
                    "in-process bus does not outlive it: a replay here would reach nobody",
                    hint="replay from the process that runs the consumer, or use the Redis "
                    "bus (QUANTDESK_REDIS_URL)",
                )
        for letter in letters:
            now = self._clock()
            envelope = SignalEnvelope(letter.signal, letter.consumer_id, letter.correlation_id, now)
            await self._bus.publish([envelope])
            self._dead_letters.mark_replayed(letter.dead_letter_id, now)
            if self.ledger.dead_lettered[letter.consumer_id] > 0:
                self.ledger.dead_lettered[letter.consumer_id] -= 1
            else:  # dead-lettered by another process: accepted again here
                self.ledger.accepted[letter.consumer_id] += 1
            self._emit(
                SignalEventKind.REPLAYED,
                letter.signal,
                letter.correlation_id,
                letter.consumer_id,
                dead_letter_id=letter.dead_letter_id,
            )
        self._events.flush()
        return letters

    def _dead_letter(self, envelope: SignalEnvelope, reason: str, attempts: int) -> None:
        dead_letter(
            envelope, reason, attempts, self._dead_letters, self.ledger, self._events, self._clock
        )

    def _emit(
        self,
        kind: SignalEventKind,
        signal: AISignal,
        correlation: str,
        consumer: str | None = None,
        **fields: str | int | float,
    ) -> None:
        self._events.emit(_event(kind, signal, correlation, self._clock(), consumer, fields))


class SignalConsumer:
    """Takes one consumer's signals from the bus, hands them to its handler, acknowledges."""

    def __init__(
        self,
        consumer_id: str,
        handler: Handler,
        bus: SignalBus,
        ledger: DeliveryLedger,
        dead_letters: DeadLetterStore,
        events: SignalEventSink,
        *,
        policy: RetryPolicy,
        rng: random.Random,
        sleep: Sleep,
        clock: Clock,
    ) -> None:
        self.consumer_id = consumer_id
        self._handler = handler
        self._bus = bus
        self._ledger = ledger
        self._dead_letters = dead_letters
        self._events = events
        self._policy = policy
        self._rng = rng
        self._sleep = sleep
        self._clock = clock

    async def poll(self, *, max_count: int = 100, timeout_s: float = 0.0) -> int:
        """Handle what the bus has now (waiting up to ``timeout_s``); returns how many."""
        received = await self._bus.receive(
            self.consumer_id, max_count=max_count, timeout_s=timeout_s
        )
        for item in received:
            await self._handle(item)
        return len(received)

    async def drain(self, *, max_count: int = 100) -> int:
        """Handle signals until the bus has none left for this consumer."""
        total = 0
        while handled := await self.poll(max_count=max_count):
            total += handled
        return total

    async def run(self, stop: asyncio.Event, *, timeout_s: float = 0.1) -> None:
        while not stop.is_set():
            await self.poll(timeout_s=timeout_s)

    async def _handle(self, item: ReceivedSignal) -> None:
        envelope = item.envelope
        signal, correlation = envelope.signal, envelope.correlation_id
        self._emit(SignalEventKind.CONSUMED, signal, correlation)
        attempt = 0
        while True:
            attempt += 1
            try:
                result = self._handler(envelope)
                if inspect.isawaitable(result):
                    await result
            except Exception as error:
                reason = _reason(error)
                if attempt >= self._policy.max_attempts:
                    await self._bus.ack(self.consumer_id, item.receipt)
                    dead_letter(
                        envelope,
                        reason,
                        attempt,
                        self._dead_letters,
                        self._ledger,
                        self._events,
                        self._clock,
                    )
                    return
                delay = self._policy.delay(attempt, self._rng)
                self._emit(
                    SignalEventKind.RETRY,
                    signal,
                    correlation,
                    attempt=attempt,
                    delay_s=round(delay, 6),
                    reason=reason,
                )
                await self._sleep(delay)
                continue
            await self._bus.ack(self.consumer_id, item.receipt)
            self._ledger.delivered[self.consumer_id] += 1
            self._emit(SignalEventKind.DELIVERED, signal, correlation, attempts=attempt)
            return

    def _emit(
        self,
        kind: SignalEventKind,
        signal: AISignal,
        correlation: str,
        **fields: str | int | float,
    ) -> None:
        self._events.emit(
            _event(kind, signal, correlation, self._clock(), self.consumer_id, fields)
        )


def dead_letter(
    envelope: SignalEnvelope,
    reason: str,
    attempts: int,
    store: DeadLetterStore,
    ledger: DeliveryLedger,
    events: SignalEventSink,
    clock: Clock,
) -> DeadLetter:
    letter = DeadLetter(
        dead_letter_id=uuid.uuid4().hex,
        consumer_id=envelope.consumer_id,
        signal=envelope.signal,
        correlation_id=envelope.correlation_id,
        reason=reason,
        attempts=attempts,
        dead_lettered_at_ns=clock(),
    )
    store.put(letter)
    ledger.dead_lettered[envelope.consumer_id] += 1
    events.emit(
        _event(
            SignalEventKind.DEAD_LETTERED,
            envelope.signal,
            envelope.correlation_id,
            clock(),
            envelope.consumer_id,
            {"reason": reason, "attempts": attempts, "dead_letter_id": letter.dead_letter_id},
        )
    )
    return letter


def _event(
    kind: SignalEventKind,
    signal: AISignal,
    correlation: str,
    at_ns: int,
    consumer: str | None,
    fields: dict[str, str | int | float],
) -> SignalEvent:
    return SignalEvent(
        kind=kind,
        signal_id=signal.signal_id,
        correlation_id=correlation,
        at_ns=at_ns,
        signal_type=signal.signal_type.value,
        source_model=signal.source_model,
        instrument_id=signal.instrument_id,
        consumer_id=consumer,
        fields=fields,
    )


def _reason(error: BaseException) -> str:
    """What failed, without arguments that could carry credentials (URLs are cut)."""
    text = f"{type(error).__name__}: {error}"
    for scheme in ("redis://", "rediss://", "postgresql://", "http://", "https://"):
        if scheme in text:
            text = text.split(scheme)[0] + scheme + "…"
    return text[:MAX_REASON]
