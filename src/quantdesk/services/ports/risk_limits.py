"""Where the portfolio's risk-limit versions are kept (each write audited in its transaction)."""

from typing import Protocol

from quantdesk.domain.risk import RiskLimits
from quantdesk.domain.risk_limits import RiskLimitVersion


class RiskLimitStore(Protocol):
    def current(self) -> RiskLimitVersion | None:
        """The newest version; None before the first."""
        ...

    def add(
        self,
        limits: RiskLimits,
        *,
        actor: str,
        reason: str,
        at_ns: int,
        correlation_id: str | None,
        expected_version: int | None = None,
    ) -> tuple[RiskLimitVersion, bool]:
        """Store the next version with its ``risk_limits_set`` audit event, atomically; the
        newest one unchanged (False) when it holds the same limits. ``expected_version``: the
        version the caller last saw (ConflictError code risk_limits_changed when another
        writer came first; 0 = none set yet)."""
        ...

    def history(self, *, limit: int, offset: int) -> tuple[list[RiskLimitVersion], int]:
        """Newest first, one page, and the number of versions."""
        ...
