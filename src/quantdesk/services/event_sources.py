"""What the service tells its WebSocket clients about the desk's own changes: strategy
versions and tags, signals accepted, rejected or dead-lettered, kill switches thrown and
released. Each is a listener the composition root attaches to the use case that makes the
change; a listener never fails the change it reports (the event is lost, and logged).
"""

import logging
import threading
from collections.abc import Callable

from pydantic import JsonValue

from quantdesk.domain.events import EventType
from quantdesk.domain.signal_routing import SignalEvent, SignalEventKind
from quantdesk.domain.strategies.versions import StrategyChange
from quantdesk.services.ports.events import EventPublisher
from quantdesk.services.ports.signals import SignalEventSink
from quantdesk.services.risk import KillSwitchChange

SIGNAL_KINDS = frozenset(
    {
        SignalEventKind.ACCEPTED,
        SignalEventKind.REJECTED,
        SignalEventKind.DEAD_LETTERED,
        SignalEventKind.REPLAYED,
    }
)
"""What a client hears of a signal: its fate, not each hop of its delivery."""

log = logging.getLogger(__name__)
SignalListener = Callable[[SignalEvent], None]


class SignalEventTap:
    """A ``SignalEventSink`` that writes to the signal log and then tells its listeners.

    The log is the record; the listeners (the event hub) hear after it was written, and one
    that raises is logged without failing the signal's routing."""

    def __init__(self, log_sink: SignalEventSink) -> None:
        self._sink = log_sink
        self._listeners: list[SignalListener] = []
        self._lock = threading.Lock()

    def emit(self, event: SignalEvent) -> None:
        self._sink.emit(event)
        with self._lock:
            listeners = tuple(self._listeners)
        for listener in listeners:
            try:
                listener(event)
            except Exception:
                log.exception("signal event listener failed on %s", event.kind)

    def counts(self, kind: SignalEventKind) -> dict[tuple[str, str], int]:
        return self._sink.counts(kind)

    def flush(self) -> None:
        self._sink.flush()

    def subscribe(self, listener: SignalListener) -> Callable[[], None]:
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                self._listeners.remove(listener)

        return unsubscribe


def strategy_updates(events: EventPublisher) -> Callable[[StrategyChange], None]:
    """Registry listener: every stored change (registered, tagged, deprecated...)."""

    def publish(change: StrategyChange) -> None:
        events.publish(
            EventType.strategy_update,
            {
                "action": str(change.action),
                "strategy_id": change.strategy_id,
                "version": change.version,
                "content_hash": change.content_hash,
                "actor": change.actor,
                "tag": change.tag,
                "changed_at_ns": change.at_ns,
            },
            subject=f"{change.strategy_id}@{change.version}",
        )

    return publish


def signal_updates(events: EventPublisher) -> SignalListener:
    """Signal-log listener: a signal accepted, rejected, dead-lettered or replayed."""

    def publish(event: SignalEvent) -> None:
        if event.kind not in SIGNAL_KINDS:
            return
        payload: dict[str, JsonValue] = {
            "kind": event.kind.value,
            "signal_id": event.signal_id,
            "signal_type": event.signal_type,
            "instrument_id": event.instrument_id,
            "source_model": event.source_model,
            "consumer_id": event.consumer_id,
            "trace_id": event.correlation_id,
            "at_ns": event.at_ns,
        }
        payload.update({key: value for key, value in event.fields.items() if key not in payload})
        events.publish(EventType.signal, payload, subject=event.signal_id)

    return publish


def risk_alerts(events: EventPublisher) -> Callable[[KillSwitchChange], None]:
    """Risk listener: a kill switch thrown or released."""

    def publish(change: KillSwitchChange) -> None:
        events.publish(
            EventType.risk_alert,
            {
                "kill_switch": change.action,
                "scope": change.scope.value,
                "target": change.target,
                "actor": change.actor,
                "reason": change.reason,
                "changed_at_ns": change.at_ns,
            },
            subject=f"{change.scope.value}:{change.target}" if change.target else "portfolio",
        )

    return publish
