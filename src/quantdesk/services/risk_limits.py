"""The portfolio's standing risk limits: read, set (a new version, audited) and their history.

These are the limits live and paper sessions trade under. Backtests are research: a request
states its own limits (``risk.limits``) so its fingerprint says what it ran with, and the
desk's settings changing later never changes what a stored run means. A client that wants a
backtest under the desk's limits reads them here and puts them in the request.
"""

import time
from collections.abc import Callable

from quantdesk.domain.correlation import current_correlation_id
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.risk import RiskLimits
from quantdesk.domain.risk_limits import RiskLimitVersion, no_limits
from quantdesk.domain.text import validate_actor, validate_reason
from quantdesk.services.ports.risk_limits import RiskLimitStore

HISTORY_LIMIT_MAX = 1000
OFFSET_MAX = 10**9
VERSION_MAX = 2**31 - 1


class RiskLimitService:
    def __init__(self, store: RiskLimitStore, clock: Callable[[], int] = time.time_ns) -> None:
        self._store = store
        self._clock = clock

    def current(self) -> RiskLimitVersion:
        """The newest version; version 0 (no limit at all) before anyone set them."""
        found = self._store.current()
        return no_limits() if found is None else found

    def set(
        self,
        limits: RiskLimits,
        *,
        actor: str,
        reason: str,
        expected_version: int | None = None,
    ) -> RiskLimitVersion:
        """A new version with its audit event; the same limits again change nothing (the
        current version is returned). ``expected_version`` guards against a lost update."""
        if not reason.strip():
            raise InvalidInputError("say why the limits change", code="reason_required")
        if expected_version is not None and not 0 <= expected_version <= VERSION_MAX:
            raise InvalidInputError(f"expected version {expected_version} is not a version")
        stored, _ = self._store.add(
            limits,
            actor=validate_actor(actor),
            reason=validate_reason(reason.strip()),
            at_ns=self._clock(),
            correlation_id=current_correlation_id(),
            expected_version=expected_version,
        )
        return stored

    def history(self, *, limit: int = 50, offset: int = 0) -> tuple[list[RiskLimitVersion], int]:
        """Newest first; version 0 is not a stored version and is not listed."""
        if not 1 <= limit <= HISTORY_LIMIT_MAX:
            raise InvalidInputError(f"limit {limit} is outside 1 .. {HISTORY_LIMIT_MAX}")
        if not 0 <= offset <= OFFSET_MAX:
            raise InvalidInputError(f"offset {offset} is outside 0 .. {OFFSET_MAX:,}")
        return self._store.history(limit=limit, offset=offset)
