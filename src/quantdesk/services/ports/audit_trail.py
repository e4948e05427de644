"""Searching the audit log: what the service's ``/audit`` route asks of the database.

The log's own port (``AuditLog``: append, read in order, head) reads every event; a query
over a long-lived desk must filter and page where the rows are.
"""

from dataclasses import dataclass
from typing import Protocol

from quantdesk.domain.audit import AuditEvent


@dataclass(frozen=True)
class AuditFilter:
    """Which events: all given conditions hold (None: any). ``subject`` matches a prefix
    (``ema-btc`` finds ``ema-btc@3``); times are ns UTC, ``until_ns`` exclusive."""

    actor: str | None = None
    action: str | None = None
    action_prefix: str | None = None  # e.g. ``risk_``: a feature's events
    subject: str | None = None
    after_seq: int = 0
    since_ns: int | None = None
    until_ns: int | None = None


class AuditSearch(Protocol):
    def search(
        self, where: AuditFilter, *, limit: int, offset: int
    ) -> tuple[list[AuditEvent], int]:
        """One page of the matching events in sequence order, and how many match in all."""
        ...
