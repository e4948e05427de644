"""The desk's kill switches: thrown and released by people, honoured by every trading session.

A thrown switch halts its scope (the whole portfolio, one strategy or one instrument) from the
next order on in any live or paper session reading the same home. Backtests are research and
do not read them: to study a halt in a backtest, schedule it in the request's ``risk.schedule``.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from quantdesk.domain.errors import InvalidInputError, NotFoundError
from quantdesk.domain.instruments import require_instrument_id
from quantdesk.domain.risk import KillSwitch, KillSwitchScope
from quantdesk.domain.text import (
    LABEL_MAX_LENGTH,
    shown,
    single_line,
    validate_actor,
    validate_reason,
)
from quantdesk.services.ports import KillSwitchStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KillSwitchChange:
    """What subscribers hear after a switch was thrown or released (the service's events)."""

    action: Literal["thrown", "released"]
    scope: KillSwitchScope
    target: str
    actor: str
    reason: str | None
    at_ns: int


class RiskService:
    def __init__(self, store: Callable[[], KillSwitchStore]) -> None:
        self._build_store = store  # built on first use: the desk's database
        self._listeners: list[Callable[[KillSwitchChange], None]] = []

    def subscribe(self, listener: Callable[[KillSwitchChange], None]) -> Callable[[], None]:
        """Call ``listener`` after each throw and release; returns the unsubscribe."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    @property
    def _store(self) -> KillSwitchStore:
        return self._build_store()

    def kill(self, scope: KillSwitchScope, target: str, reason: str, actor: str) -> KillSwitch:
        """Throw a switch; every field is checked as the store will keep it (one line each,
        bounded), so a switch that halts trading is never one that cannot be read back."""
        if (scope is KillSwitchScope.PORTFOLIO) != (target == ""):
            raise InvalidInputError(
                "a portfolio kill switch takes no target; a strategy or instrument one needs one",
                hint="name the strategy or instrument to halt, or halt the whole portfolio",
            )
        if scope is KillSwitchScope.INSTRUMENT:
            require_instrument_id(target)
        elif scope is KillSwitchScope.STRATEGY:
            _check_target(target)
        if not reason.strip():
            raise InvalidInputError("say why the switch is thrown", hint="give a reason")
        switch = KillSwitch(
            scope=scope,
            target=target,
            reason=validate_reason(reason),
            actor=validate_actor(actor),
            thrown_at_ns=time.time_ns(),
        )
        self._store.throw(switch)
        self._tell(
            KillSwitchChange(
                "thrown", scope, target, switch.actor, switch.reason, switch.thrown_at_ns
            )
        )
        return switch

    def release(self, scope: KillSwitchScope, target: str, actor: str) -> None:
        at_ns = time.time_ns()
        if not self._store.release(scope, target, actor, at_ns):
            raise NotFoundError(
                f"no {scope.value} kill switch {target!r} is thrown".replace(" ''", ""),
                code="kill_switch_not_thrown",
                data={"scope": scope.value, "target": target},
            )
        self._tell(KillSwitchChange("released", scope, target, actor, None, at_ns))

    def _tell(self, change: KillSwitchChange) -> None:
        """The switch is stored: a failing listener must not hide it from the others."""
        for listener in list(self._listeners):
            try:
                listener(change)
            except Exception:
                log.exception("kill switch listener failed on %s", change.action)

    def status(self) -> list[KillSwitch]:
        return sorted(self._store.thrown(), key=lambda s: s.thrown_at_ns)

    def halted(self, strategy_id: str, instrument_id: str) -> KillSwitch | None:
        """The switch that stops this strategy trading this instrument, if any."""
        for switch in self._store.thrown():
            if (
                switch.scope is KillSwitchScope.PORTFOLIO
                or (switch.scope is KillSwitchScope.STRATEGY and switch.target == strategy_id)
                or (switch.scope is KillSwitchScope.INSTRUMENT and switch.target == instrument_id)
            ):
                return switch
        return None


def _check_target(target: str) -> None:
    """A strategy id as sessions name it: one line of visible text, bounded."""
    if len(target) > LABEL_MAX_LENGTH:
        raise InvalidInputError(
            f"strategy {shown(target)} is too long: at most {LABEL_MAX_LENGTH} characters"
        )
    try:
        single_line(target)
    except ValueError as error:
        raise InvalidInputError(f"strategy {error}") from None
