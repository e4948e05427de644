"""Listeners that turn the desk's changes into service events never fail the change."""

from dataclasses import dataclass, field
from typing import Any

import pytest

from quantdesk.domain.events import EventType
from quantdesk.domain.risk import KillSwitch, KillSwitchScope
from quantdesk.domain.signal_routing import SignalEvent, SignalEventKind
from quantdesk.services.event_sources import SignalEventTap, risk_alerts, signal_updates
from quantdesk.services.risk import KillSwitchChange, RiskService


@dataclass
class Published:
    events: list[tuple[EventType, dict[str, Any], str | None]] = field(default_factory=list)

    def publish(self, type: EventType, payload: Any, *, subject: str | None = None) -> None:
        self.events.append((type, dict(payload), subject))


@dataclass
class Log:
    emitted: list[SignalEvent] = field(default_factory=list)
    flushed: int = 0

    def emit(self, event: SignalEvent) -> None:
        self.emitted.append(event)

    def counts(self, kind: SignalEventKind) -> dict[tuple[str, str], int]:
        return {("SENTIMENT", "m"): len(self.emitted)}

    def flush(self) -> None:
        self.flushed += 1


@dataclass
class Switches:
    thrown_now: dict[str, KillSwitch] = field(default_factory=dict)

    def throw(self, switch: KillSwitch) -> None:
        self.thrown_now[switch.key] = switch

    def release(self, scope: KillSwitchScope, target: str, actor: str, at_ns: int) -> bool:
        return self.thrown_now.pop(f"{scope.value}:{target}", None) is not None

    def thrown(self) -> list[KillSwitch]:
        return list(self.thrown_now.values())


def _event(kind: SignalEventKind) -> SignalEvent:
    return SignalEvent(kind=kind, signal_id="s-1", correlation_id="trace", at_ns=5)


def _broken(_: object) -> None:
    raise RuntimeError("listener bug")


def test_the_tap_logs_first_then_tells_only_a_signals_fate() -> None:
    log, published = Log(), Published()
    tap = SignalEventTap(log)
    tap.subscribe(_broken)
    stop = tap.subscribe(signal_updates(published))
    for kind in (SignalEventKind.ACCEPTED, SignalEventKind.PUBLISHED, SignalEventKind.DELIVERED):
        tap.emit(_event(kind))
    assert len(log.emitted) == 3  # the log has every event, the broken listener changed nothing
    assert [(t, p["kind"], s) for t, p, s in published.events] == [
        (EventType.signal, "accepted", "s-1")
    ]
    assert published.events[0][1]["trace_id"] == "trace"
    stop()
    tap.emit(_event(SignalEventKind.REJECTED))
    assert len(published.events) == 1
    tap.flush()
    assert log.flushed == 1 and tap.counts(SignalEventKind.ACCEPTED) == {("SENTIMENT", "m"): 4}


def test_kill_switch_listeners_hear_throws_and_releases(caplog: pytest.LogCaptureFixture) -> None:
    store = Switches()
    risk = RiskService(lambda: store)
    published = Published()
    heard: list[KillSwitchChange] = []
    risk.subscribe(_broken)
    risk.subscribe(heard.append)
    risk.subscribe(risk_alerts(published))
    risk.kill(KillSwitchScope.PORTFOLIO, "", "drill", "tina")
    risk.release(KillSwitchScope.PORTFOLIO, "", "tom")
    assert [(c.action, c.actor, c.reason) for c in heard] == [
        ("thrown", "tina", "drill"),
        ("released", "tom", None),
    ]
    assert [(p["kill_switch"], s) for _, p, s in published.events] == [
        ("thrown", "portfolio"),
        ("released", "portfolio"),
    ]
    assert "kill switch listener failed" in caplog.text
    assert store.thrown_now == {}
