"""The routes of the desk: AI signals, risk limits and kill switches, market data, feature
flags, the audit log."""

from collections.abc import Mapping, Sequence
from typing import Any

from quantdesk.api.schemas.audit import AuditEventOut, AuditVerification
from quantdesk.api.schemas.data import UploadAccepted
from quantdesk.api.schemas.feature_flags import (
    FeatureFlagDecision,
    FeatureFlagOut,
    FeatureFlagSet,
)
from quantdesk.api.schemas.risk import KillSwitchStatus, RiskEventOut
from quantdesk.api.schemas.signals import (
    DeadLetterOut,
    SignalBatchOut,
    SignalRouted,
    SignalStatsOut,
)
from quantdesk.client._transport import (
    Call,
    as_json,
    content,
    dumps,
    get,
    model,
    path,
    post,
)
from quantdesk.client.models import Page
from quantdesk.domain.auth import Role
from quantdesk.domain.instruments import InstrumentSpec
from quantdesk.domain.market_data import (
    BarIngestOptions,
    CatalogEntry,
    IngestSummary,
    LineageRecord,
)
from quantdesk.domain.risk import KillSwitch, KillSwitchScope, RiskLimits
from quantdesk.domain.risk_limits import RiskLimitVersion
from quantdesk.domain.signals import AISignal

# signals ---------------------------------------------------------------------------------


def ingest_signal(record: Mapping[str, Any]) -> Call[SignalRouted]:
    """One AI signal on the live path (feature flag ``signals_http_ingest``); a rejected one
    is a 422 ``signal_rejected`` naming the reason."""
    return post("/signals", SignalRouted, record)


def ingest_signals(records: Sequence[Mapping[str, Any]]) -> Call[SignalBatchOut]:
    """A batch (at most 1,000), judged and counted like a signal file's lines."""
    return post("/signals/batch", SignalBatchOut, {"records": list(records)})


def signals(
    *,
    signal_type: str | None = None,
    instrument_id: str | None = None,
    start_ns: int | None = None,
    end_ns: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Call[Page[AISignal]]:
    return get(
        "/signals",
        Page[AISignal],
        signal_type=signal_type,
        instrument_id=instrument_id,
        start_ns=start_ns,
        end_ns=end_ns,
        limit=limit,
        offset=offset,
    )


def signal_stats() -> Call[list[SignalStatsOut]]:
    return get("/signals/stats", list[SignalStatsOut])


def signal(signal_id: str) -> Call[AISignal]:
    return get(path("signals", signal_id), AISignal)


def dead_letters(
    *, include_replayed: bool = False, limit: int = 50, offset: int = 0
) -> Call[Page[DeadLetterOut]]:
    return get(
        "/signals/dead-letters",
        Page[DeadLetterOut],
        include_replayed=include_replayed,
        limit=limit,
        offset=offset,
    )


def replay_dead_letter(dead_letter_id: str) -> Call[list[DeadLetterOut]]:
    route = path("signals", "dead-letters", dead_letter_id, "replay")
    return post(route, list[DeadLetterOut])


# risk ------------------------------------------------------------------------------------


def risk_limits() -> Call[RiskLimitVersion]:
    return get("/risk/limits", RiskLimitVersion)


def set_risk_limits(
    limits: RiskLimits | Mapping[str, Any], *, reason: str, expected_version: int | None = None
) -> Call[RiskLimitVersion]:
    """New portfolio limits (a new version, audited); with ``expected_version`` (the one you
    read) a change made meanwhile is refused (409) instead of overwritten."""
    body = as_json({"limits": limits, "reason": reason, "expected_version": expected_version})
    return Call("PUT", "/risk/limits", model(RiskLimitVersion), json=body)


def risk_limits_history(*, limit: int = 50, offset: int = 0) -> Call[Page[RiskLimitVersion]]:
    return get("/risk/limits/history", Page[RiskLimitVersion], limit=limit, offset=offset)


def kill_switches() -> Call[KillSwitchStatus]:
    """Every thrown switch; ``portfolio_halted`` when all trading stops."""
    return get("/risk/kill-switch", KillSwitchStatus)


def throw_kill_switch(
    *, reason: str, scope: KillSwitchScope = KillSwitchScope.PORTFOLIO, target: str = ""
) -> Call[KillSwitch]:
    """Halt the portfolio (default), one strategy or one instrument (``target``)."""
    body = {"scope": scope, "target": target, "reason": reason}
    return post("/risk/kill-switch", KillSwitch, body)


def release_kill_switch(
    *, scope: KillSwitchScope = KillSwitchScope.PORTFOLIO, target: str = ""
) -> Call[KillSwitchStatus]:
    body = {"scope": scope, "target": target}
    return post("/risk/kill-switch/release", KillSwitchStatus, body)


def risk_events(
    *,
    run_id: str | None = None,
    kind: str | None = None,
    strategy_id: str | None = None,
    instrument_id: str | None = None,
    since_ns: int | None = None,
    until_ns: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Call[Page[RiskEventOut]]:
    """A run's risk decisions (``run_id``), or the desk's risk changes."""
    return get(
        "/risk/events",
        Page[RiskEventOut],
        run_id=run_id,
        kind=kind,
        strategy_id=strategy_id,
        instrument_id=instrument_id,
        since_ns=since_ns,
        until_ns=until_ns,
        limit=limit,
        offset=offset,
    )


# market data -----------------------------------------------------------------------------


def instruments(*, limit: int = 50, offset: int = 0) -> Call[Page[InstrumentSpec]]:
    return get("/data/instruments", Page[InstrumentSpec], limit=limit, offset=offset)


def instrument(instrument_id: str) -> Call[InstrumentSpec]:
    return get(path("data", "instruments", instrument_id), InstrumentSpec)


def catalog(*, limit: int = 50, offset: int = 0) -> Call[Page[CatalogEntry]]:
    """The series the catalog holds: first/last timestamp, rows, files."""
    return get("/data/catalog", Page[CatalogEntry], limit=limit, offset=offset)


def lineage(
    *, instrument_id: str | None = None, limit: int = 50, offset: int = 0
) -> Call[Page[LineageRecord]]:
    return get(
        "/data/lineage",
        Page[LineageRecord],
        instrument_id=instrument_id,
        limit=limit,
        offset=offset,
    )


def upload_bars(
    data: bytes,
    *,
    filename: str,
    instrument_id: str,
    bar_spec: str = "1-MINUTE-LAST",
    options: BarIngestOptions | Mapping[str, Any] | None = None,
) -> Call[UploadAccepted]:
    """A bar file (``.csv``, ``.csv.gz``, ``.parquet``: the name's suffix says which) ingested
    by a job; the job's result is the ingest summary, its rejects downloadable."""
    fields = {"instrument_id": instrument_id, "bar_spec": bar_spec}
    if options:
        fields["options"] = dumps(as_json(options))
    files = {"file": (filename, data, "application/octet-stream")}
    return Call("POST", "/data/uploads/bars", model(UploadAccepted), files=files, data=fields)


def upload_signals(data: bytes, *, filename: str) -> Call[UploadAccepted]:
    """A signal file (JSON lines, CSV, Parquet) ingested by a job through the signal gate."""
    files = {"file": (filename, data, "application/octet-stream")}
    return Call("POST", "/data/uploads/signals", model(UploadAccepted), files=files)


def ingest_summary(ingest_id: str) -> Call[IngestSummary]:
    return get(path("data", "ingests", ingest_id), IngestSummary)


def ingest_rejects(ingest_id: str) -> Call[bytes]:
    """The rejected rows of a bar ingest (CSV) or records of a signal ingest (JSON lines)."""
    return Call("GET", path("data", "ingests", ingest_id, "rejects"), content)


# feature flags ---------------------------------------------------------------------------


def feature_flags(*, limit: int = 50, offset: int = 0) -> Call[Page[FeatureFlagOut]]:
    return get("/feature-flags", Page[FeatureFlagOut], limit=limit, offset=offset)


def feature_flag(name: str) -> Call[FeatureFlagOut]:
    return get(path("feature-flags", name), FeatureFlagOut)


def set_feature_flag(
    name: str,
    *,
    enabled: bool | None = None,
    rollout_percent: int | None = None,
    allowed_roles: Sequence[Role] | None = None,
    environments: Sequence[str] | None = None,
    description: str | None = None,
    reason: str = "",
    expected_version: int | None = None,
) -> Call[FeatureFlagOut]:
    """Change a flag (the fields given; the rest stays): a new version, audited, in force
    on the next request; ``expected_version`` refuses a lost update (409)."""
    body = FeatureFlagSet(
        enabled=enabled,
        rollout_percent=rollout_percent,
        allowed_roles=None if allowed_roles is None else list(allowed_roles),
        environments=None if environments is None else list(environments),
        description=description,
        reason=reason,
        expected_version=expected_version,
    )
    route = path("feature-flags", name)
    return Call("PUT", route, model(FeatureFlagOut), json=body.model_dump(exclude_none=True))


def feature_flag_history(
    name: str, *, limit: int = 50, offset: int = 0
) -> Call[Page[FeatureFlagOut]]:
    route = path("feature-flags", name, "history")
    return get(route, Page[FeatureFlagOut], limit=limit, offset=offset)


def revert_feature_flag(name: str, version: int, *, reason: str = "") -> Call[FeatureFlagOut]:
    """Restore an earlier version's settings as a new version (0: a seeded flag's default)."""
    body = {"version": version, "reason": reason}
    return post(path("feature-flags", name, "revert"), FeatureFlagOut, body)


def evaluate_feature_flag(
    name: str, *, user_id: str | None = None, role: Role | None = None
) -> Call[FeatureFlagDecision]:
    """Whether the flag is on for a user and role (default: the caller), and why."""
    route = path("feature-flags", name, "evaluate")
    return get(route, FeatureFlagDecision, user_id=user_id, role=role)


# audit -----------------------------------------------------------------------------------


def audit_events(
    *,
    actor: str | None = None,
    action: str | None = None,
    subject: str | None = None,
    after_seq: int | None = None,
    since_ns: int | None = None,
    until_ns: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Call[Page[AuditEventOut]]:
    return get(
        "/audit",
        Page[AuditEventOut],
        actor=actor,
        action=action,
        subject=subject,
        after_seq=after_seq,
        since_ns=since_ns,
        until_ns=until_ns,
        limit=limit,
        offset=offset,
    )


def verify_audit() -> Call[AuditVerification]:
    """Recompute the hash chain: ``holds`` and every break."""
    return get("/audit/verify", AuditVerification)
