"""What the network service needs beyond the platform's use cases: who may do what (auth),
long work off the request path (jobs), events to clients, feature flags, the request audit
trail, the portfolio's risk limits and the readiness checks.

Built on first use by ``bootstrap`` (``Platform.service``): a CLI command or a backtest that
never serves pays nothing for it.
"""

from dataclasses import dataclass

from quantdesk.services.audit_trail import AuditTrail
from quantdesk.services.auth import AuthService
from quantdesk.services.events import EventHub
from quantdesk.services.feature_flags import FeatureFlagService
from quantdesk.services.ingest_records import IngestRecords
from quantdesk.services.jobs import JobService
from quantdesk.services.risk_limits import RiskLimitService


@dataclass(frozen=True)
class ServiceParts:
    """The service's own use cases, each added here by the feature that builds it."""

    auth: AuthService  # users, tokens and API keys: who is calling, with which role
    audit: AuditTrail  # every state-changing request and service change, on the chain
    risk_limits: RiskLimitService  # the portfolio limits live sessions trade under
    ingests: IngestRecords  # what bar and signal ingests left behind: summaries, rejects
    jobs: JobService  # backtests, ingests and validations in worker processes
    events: EventHub  # numbered events to WebSocket clients (every server process's)
    flags: FeatureFlagService  # features on or off per user, role and environment
