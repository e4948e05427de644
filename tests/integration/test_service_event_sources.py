"""The desk's own changes reach the service's event hub: strategy versions, kill switches,
signals' fates (wired by bootstrap; a CLI that never serves builds none of it)."""

import json
from pathlib import Path

from quantdesk.domain.events import EventType
from quantdesk.domain.risk import KillSwitchScope
from quantdesk.services.platform import Platform
from support.registry import trend
from support.signals import raw_signal


def _nothing() -> None:
    return None


def test_strategy_risk_and_signal_changes_become_events(
    desk_with_equity: Platform, tmp_path: Path
) -> None:
    desk = desk_with_equity
    hub = desk.service.events
    watcher = hub.subscribe([], wake=_nothing)
    desk.registry.register(trend("trend-a"), "ann", "first")
    desk.risk.kill(KillSwitchScope.STRATEGY, "trend-a", "drill", "tina")
    desk.risk.release(KillSwitchScope.STRATEGY, "trend-a", "tina")
    good, bad = raw_signal(), raw_signal(instrument_id="NOPE.XNAS")
    path = tmp_path / "signals.jsonl"
    path.write_text("".join(json.dumps(record) + "\n" for record in (good, bad)))
    desk.signals.ingest_file(path)
    events, dropped = watcher.queue.take(100)
    assert dropped == 0
    assert [e.seq for e in events] == list(range(1, len(events) + 1))

    strategy = [e for e in events if e.type is EventType.strategy_update]
    assert [(e.subject, e.payload["actor"]) for e in strategy][:1] == [("trend-a@1", "ann")]
    risk = [(e.payload["kill_switch"], e.subject) for e in events if e.type is EventType.risk_alert]
    assert risk == [("thrown", "strategy:trend-a"), ("released", "strategy:trend-a")]
    signals = {e.subject: e.payload["kind"] for e in events if e.type is EventType.signal}
    assert signals[bad["signal_id"]] == "rejected"
    assert signals[good["signal_id"]] == "accepted"
