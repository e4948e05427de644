"""The desk's kill switches, shared by every process that trades."""

from typing import Protocol

from quantdesk.domain.risk import KillSwitch, KillSwitchScope


class KillSwitchStore(Protocol):
    """The desk's kill switches, shared by every process that trades (read before orders)."""

    def thrown(self) -> list[KillSwitch]: ...

    def throw(self, switch: KillSwitch) -> None: ...

    def release(self, scope: KillSwitchScope, target: str, actor: str, at_ns: int) -> bool: ...
