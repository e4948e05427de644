"""The desk's risk controls as the service offers them: kill switches thrown and released,
each with its audit event, and the desk's risk history read back from the audit log.

A run's risk decisions (denials, reductions, halts) live in its result; the desk's own
changes (switches, limits) live in the hash-chained log, under actions starting ``risk_``.
"""

from dataclasses import dataclass

from pydantic import JsonValue

from quantdesk.domain.audit import AuditEvent
from quantdesk.domain.risk import KillSwitch, KillSwitchScope
from quantdesk.services.audit_trail import AuditTrail
from quantdesk.services.ports.audit_trail import AuditFilter
from quantdesk.services.risk import RiskService

RISK_ACTION_PREFIX = "risk_"
THROWN = "risk_kill_switch_thrown"
RELEASED = "risk_kill_switch_released"
LIMITS_SET = "risk_limits_set"  # written by the risk-limit store with each version
DESK_KINDS = {
    "kill_switch_thrown": THROWN,
    "kill_switch_released": RELEASED,
    "limits_set": LIMITS_SET,
}


@dataclass(frozen=True)
class DeskRiskEvent:
    """A change to the desk's risk controls, as the audit log holds it."""

    seq: int
    at_ns: int
    kind: str  # a key of DESK_KINDS
    actor: str
    scope: str
    target: str
    detail: str


class RiskDesk:
    def __init__(self, risk: RiskService, audit: AuditTrail) -> None:
        self._risk = risk
        self._audit = audit  # clients hear of switches from RiskService's listeners (risk_alert)

    def throw(self, scope: KillSwitchScope, target: str, reason: str, actor: str) -> KillSwitch:
        switch = self._risk.kill(scope, target, reason, actor)
        details: dict[str, JsonValue] = {
            "scope": scope.value,
            "target": target,
            "reason": switch.reason,
        }
        subject = _subject(scope, target)
        self._audit.record_change(
            actor=switch.actor, action=THROWN, subject=subject, details=details
        )
        return switch

    def release(self, scope: KillSwitchScope, target: str, actor: str) -> None:
        self._risk.release(scope, target, actor)
        details: dict[str, JsonValue] = {"scope": scope.value, "target": target}
        subject = _subject(scope, target)
        self._audit.record_change(actor=actor, action=RELEASED, subject=subject, details=details)

    def status(self) -> list[KillSwitch]:
        return self._risk.status()

    def events(
        self,
        *,
        kind: str | None = None,
        since_ns: int | None = None,
        until_ns: int | None = None,
        limit: int,
        offset: int,
    ) -> tuple[list[DeskRiskEvent], int]:
        """The desk's risk changes, oldest first; ``kind`` one of ``DESK_KINDS``."""
        where = AuditFilter(
            action=None if kind is None else DESK_KINDS[kind],
            action_prefix=RISK_ACTION_PREFIX,
            since_ns=since_ns,
            until_ns=until_ns,
        )
        found, total = self._audit.query(where, limit=limit, offset=offset)
        return [_desk_event(event) for event in found], total


def _subject(scope: KillSwitchScope, target: str) -> str:
    return "kill-switch/portfolio" if not target else f"kill-switch/{scope.value}/{target}"


def _text(payload: dict[str, JsonValue], key: str, default: str = "") -> str:
    value = payload.get(key)
    return value if isinstance(value, str) else default


def _desk_event(event: AuditEvent) -> DeskRiskEvent:
    kinds = {action: kind for kind, action in DESK_KINDS.items()}
    payload = event.payload
    if event.action == LIMITS_SET:
        detail = f"version {payload.get('version')}: {_text(payload, 'reason')}"
    else:
        detail = _text(payload, "reason")
    return DeskRiskEvent(
        seq=event.seq,
        at_ns=event.at_ns,
        kind=kinds.get(event.action, event.action.removeprefix(RISK_ACTION_PREFIX)),
        actor=event.actor,
        scope=_text(payload, "scope", "portfolio"),
        target=_text(payload, "target"),
        detail=detail,
    )
