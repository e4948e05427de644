"""The desk's kill switches: thrown and released by people, honoured by every trading session.

A thrown switch halts its scope (the whole portfolio, one strategy or one instrument) from the
next order on in any live or paper session reading the same home. Backtests are research and
do not read them: to study a halt in a backtest, schedule it in the request's ``risk.schedule``.
"""

import time

from quantdesk.domain.errors import InvalidInputError, NotFoundError
from quantdesk.domain.risk import KillSwitch, KillSwitchScope
from quantdesk.services.ports import KillSwitchStore


class RiskService:
    def __init__(self, store: KillSwitchStore) -> None:
        self._store = store

    def kill(self, scope: KillSwitchScope, target: str, reason: str, actor: str) -> KillSwitch:
        if (scope is KillSwitchScope.PORTFOLIO) != (target == ""):
            raise InvalidInputError(
                "a portfolio kill switch takes no target; a strategy or instrument one needs one",
                hint="quantdesk risk kill --all | --strategy ID | --instrument ID",
            )
        if not reason.strip():
            raise InvalidInputError("say why the switch is thrown", hint="--reason TEXT")
        switch = KillSwitch(
            scope=scope, target=target, reason=reason, actor=actor, thrown_at_ns=time.time_ns()
        )
        self._store.throw(switch)
        return switch

    def release(self, scope: KillSwitchScope, target: str, actor: str) -> None:
        if not self._store.release(scope, target, actor, time.time_ns()):
            raise NotFoundError(
                f"no {scope.value} kill switch {target!r} is thrown".replace(" ''", ""),
                hint="see quantdesk risk status",
            )

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
