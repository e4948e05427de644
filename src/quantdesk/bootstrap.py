"""The composition root: settings -> adapters -> services -> CLI. Nothing else wires.

Adapters that pull in heavy libraries (SQLAlchemy and Alembic, redis, the CLI's own) are
imported where they are built, when they are built: a backtest keeps its memory for the
engine.
"""

import functools
import logging
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import JsonValue, ValidationError

from quantdesk.adapters.analytics.garch import ArchGarchFitter
from quantdesk.adapters.analytics.vader import VaderSentimentScorer
from quantdesk.adapters.messaging.in_process import InProcessSignalBus
from quantdesk.adapters.nautilus.backtest import NautilusBacktestRunner
from quantdesk.adapters.nautilus.catalog import ParquetCatalog
from quantdesk.adapters.nautilus.memory import share_one_allocator
from quantdesk.adapters.nautilus.plugin_inspector import SubprocessPluginInspector
from quantdesk.adapters.nautilus.signal_store import ParquetSignalStore
from quantdesk.adapters.nautilus.strategy_export import NautilusStrategyExporter
from quantdesk.adapters.nautilus.tick_reads import ParquetTickCatalog
from quantdesk.adapters.reporting.html_report import HtmlReportRenderer
from quantdesk.adapters.sources.bar_files import BarFileSource
from quantdesk.adapters.sources.documents import BoundedDocumentReader
from quantdesk.adapters.sources.headline_files import HeadlineFileSource
from quantdesk.adapters.sources.signal_files import SignalFileSource
from quantdesk.adapters.storage.run_store import FileRunStore
from quantdesk.adapters.storage.signal_files import (
    JsonLinesDeadLetterStore,
    JsonLinesRejectStore,
    JsonLinesSignalEventLog,
)
from quantdesk.bootstrap_data import build_migrations, build_ticks
from quantdesk.bootstrap_research import build_research
from quantdesk.domain.audit import MIN_KEY_BYTES, AuditAnchor, AuditKey
from quantdesk.domain.correlation import correlated
from quantdesk.domain.errors import InvalidInputError, QuantdeskError
from quantdesk.domain.strategies.versions import StrategyVersion
from quantdesk.services.audit_trail import AuditTrail
from quantdesk.services.auth import AuthService
from quantdesk.services.backtests import BacktestService
from quantdesk.services.catalog import CatalogService
from quantdesk.services.compatibility import CompatibilityChecker
from quantdesk.services.database import DatabaseService
from quantdesk.services.event_sources import (
    SignalEventTap,
    risk_alerts,
    signal_updates,
    strategy_updates,
)
from quantdesk.services.events import EventHub
from quantdesk.services.feature_flags import FeatureFlagService
from quantdesk.services.ingest import BarIngestService
from quantdesk.services.ingest_records import IngestRecords
from quantdesk.services.instruments import InstrumentService
from quantdesk.services.jobs import JobService
from quantdesk.services.migrations import SourceOpener
from quantdesk.services.platform import Platform
from quantdesk.services.plugins import PluginGate, PluginPolicy
from quantdesk.services.ports import (
    BacktestRunner,
    KillSwitchStore,
    RunIndex,
    RunStore,
    SignalBus,
)
from quantdesk.services.ports.events import EventChannel, EventPublisher
from quantdesk.services.ports.jobs import JobChannel, JobRunner, JobWork
from quantdesk.services.registry import StrategyRegistry
from quantdesk.services.risk import RiskService
from quantdesk.services.risk_limits import RiskLimitService
from quantdesk.services.service_parts import ServiceParts
from quantdesk.services.signal_producers import SignalProducerService
from quantdesk.services.signal_routing import SignalRouter
from quantdesk.services.signals import (
    KnownInstruments,
    SignalGate,
    SignalService,
    catalog_instruments,
)
from quantdesk.services.synthetic import SyntheticMarketService
from quantdesk.settings import QuantdeskSettings

if TYPE_CHECKING:  # the service's types, imported only by what serves
    from fastapi import FastAPI

    from quantdesk.cli.serve import ServeOptions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Overrides:
    """Adapters a caller (a test, an embedding program) puts in place of the desk's own."""

    runner: BacktestRunner | None = None
    run_store: RunStore | None = None
    run_index: RunIndex | None = None
    kill_switches: KillSwitchStore | None = None
    job_runner: JobRunner | None = None  # e.g. an in-process runner for API tests
    event_bus: EventChannel | None = None  # the events' channel (default: Redis or in-process)
    table_sources: SourceOpener | None = None  # where data migrate reads (default: PostgreSQL)


def bootstrap(
    settings: QuantdeskSettings | None = None,
    *,
    home: Path | str | None = None,
    overrides: Overrides | None = None,
) -> Platform:
    """The Python API's entry point: ``bootstrap(home="./desk").ingest.ingest_bars(...)``."""
    overrides = Overrides() if overrides is None else overrides
    if settings is None:
        settings = _settings(None if home is None else Path(home))
    elif home is not None:
        settings = settings.model_copy(update={"home": Path(home)})
    share_one_allocator()  # process-wide: the engine, Arrow and numpy reuse one heap
    catalog = ParquetCatalog(settings.catalog_dir)
    instruments = InstrumentService(catalog)
    ingest = BarIngestService(catalog, BarFileSource(), settings.ingest_dir)
    signal_store = ParquetSignalStore(settings.catalog_dir)  # one buffer: replay sees it all
    signals, router, signal_events = _signals(settings, catalog, signal_store)
    plugins = _plugins(settings)
    checkers: list[CompatibilityChecker] = []  # built with the registry, which it listens to
    platform = Platform(
        home=settings.home,
        instruments=instruments,
        ingest=ingest,
        catalog=CatalogService(catalog),
        synthetic=SyntheticMarketService(instruments, ingest),
        backtests=BacktestService(
            catalog,
            NautilusBacktestRunner(catalog) if overrides.runner is None else overrides.runner,
            FileRunStore(settings.runs_dir) if overrides.run_store is None else overrides.run_store,
            HtmlReportRenderer(),
            signals=signal_store,
            audit_head=lambda: _audit_head(settings, platform),
            plugins=plugins,
            resolve=lambda ref: platform.registry.resolve(ref),  # references pinned here
            index=_run_index(settings, overrides.run_index),
            ticks=ParquetTickCatalog(settings.catalog_dir),
        ),
        risk=RiskService(_kill_switches(settings, overrides.kill_switches)),
        producers=SignalProducerService(
            catalog, ArchGarchFitter(), VaderSentimentScorer(), HeadlineFileSource()
        ),
        signals=signals,
        signal_router=router,
        documents=BoundedDocumentReader(),
        build_registry=lambda: _registry(
            settings,
            lambda: _run_anchors(platform),
            plugins,
            lambda registry, database: _validated(
                _promoted(registry, platform),
                _compatibility(settings, catalog, signal_store, plugins, database),
                checkers,
                settings.validation_smoke,
            ),
        ),
        exporter=NautilusStrategyExporter(),
        build_compatibility=lambda: (platform.registry, checkers[0])[1],
        build_service=lambda: _service(settings, platform, overrides, signal_events),
        build_research=lambda: build_research(settings, platform),
        build_migrations=lambda: build_migrations(settings, catalog, overrides.table_sources),
        build_ticks=lambda: build_ticks(settings, catalog),
    )
    for source_model, max_age_ns in platform.producers.max_ages().items():
        signals.declare_producer(source_model, max_age_ns)
    return platform


def _run_index(settings: QuantdeskSettings, given: RunIndex | None) -> Callable[[], RunIndex]:
    """The runs' index in the desk's database, opened when a run first needs it."""
    if given is not None:
        return lambda: given

    @functools.cache
    def build() -> RunIndex:
        from quantdesk.adapters.storage.database import Database
        from quantdesk.adapters.storage.run_index import SqlRunIndex

        return SqlRunIndex(Database(settings.database))

    return build


def _kill_switches(
    settings: QuantdeskSettings, given: KillSwitchStore | None
) -> Callable[[], KillSwitchStore]:
    """Kill switches in the desk's database (a desk's older file of them moves in on first
    use), opened when first read or thrown."""
    if given is not None:
        return lambda: given

    @functools.cache
    def build() -> KillSwitchStore:
        from quantdesk.adapters.storage.database import Database
        from quantdesk.adapters.storage.kill_switches import (
            FileKillSwitchStore,
            SqlKillSwitchStore,
        )

        legacy = FileKillSwitchStore(settings.home / "risk")
        return SqlKillSwitchStore(Database(settings.database), legacy)

    return build


def _settings(home: Path | None) -> QuantdeskSettings:
    """The environment's settings; a value that breaks a rule is named by its variable (its
    value is not echoed: it may be a secret)."""
    try:
        return QuantdeskSettings() if home is None else QuantdeskSettings(home=home)
    except ValidationError as error:
        first = error.errors()[0]
        variable = f"QUANTDESK_{str(first['loc'][0]).upper()}" if first["loc"] else "a setting"
        raise InvalidInputError(f"{variable}: {first['msg']}") from None


def main() -> None:
    """Console script ``quantdesk``."""
    from quantdesk.cli.app import create_cli

    create_cli(lambda home: bootstrap(home=home), serve=_serve)()


def service_app() -> "FastAPI":
    """The service's app factory (uvicorn ``factory=True``; once per worker process):
    settings from the environment, the platform and its service, then ``create_app``."""
    from quantdesk.api.app import create_app
    from quantdesk.api.config import ApiSettings

    settings = _settings(None)
    platform = bootstrap(settings)
    api = ApiSettings(
        cors_origins=settings.cors_origins,
        metrics_public=settings.metrics_public,
        environment=settings.environment,
        ws_queue_size=settings.ws_queue_size,
        ws_heartbeat_seconds=settings.ws_heartbeat_seconds,
        upload_max_bytes=settings.upload_max_bytes,
        uploads_dir=settings.uploads_dir,
        readiness=(  # beside the database and the job workers, which the API checks itself
            ("catalog", platform.instruments.list),
            ("engine", _engine_importable),
        ),
    )
    return create_app(platform, api)


def _engine_importable() -> None:
    """The engine a job's worker will load imports here too (cached after the first time)."""
    import importlib

    importlib.import_module("nautilus_trader.backtest.engine")


def _serve(options: "ServeOptions") -> None:
    """``quantdesk serve``: uvicorn on the factory above, JSON logs in every worker."""
    import uvicorn

    from quantdesk.api.observability import log_config

    uvicorn.run(
        "quantdesk.bootstrap:service_app",
        factory=True,
        host=options.host,
        port=options.port,
        workers=options.workers,
        log_config=log_config(),
        server_header=False,
        # a spawned worker imports this module (the engine) before it can answer uvicorn's
        # health check: at the default 5 s a loaded machine restarts workers forever
        timeout_worker_healthcheck=60,
        ws_max_size=65536,  # a client's WebSocket frame: /ws reads small commands only
    )


def _signals(
    settings: QuantdeskSettings, catalog: ParquetCatalog, store: ParquetSignalStore
) -> tuple[SignalService, SignalRouter, SignalEventTap]:
    """Buffer in the catalog, rejects/dead letters/events under signals/, the chosen bus;
    the events' tap is where the service listens to them."""
    gate = SignalGate(store, KnownInstruments(catalog_instruments(catalog)))
    rejects = JsonLinesRejectStore(settings.signals_dir / "rejects")
    dead_letters = JsonLinesDeadLetterStore(settings.signals_dir / "dead_letters.jsonl")
    events = SignalEventTap(JsonLinesSignalEventLog(settings.signals_dir / "events"))
    bus: SignalBus
    if settings.redis_url is None:
        bus = InProcessSignalBus()
    else:
        from quantdesk.adapters.messaging.redis_streams import RedisSignalBus

        bus = RedisSignalBus(settings.redis_url)
    service = SignalService(store, SignalFileSource(), gate, rejects, dead_letters, events)
    router = SignalRouter(gate, store, bus, events, dead_letters, rejects)
    return service, router, events


def _plugins(settings: QuantdeskSettings) -> PluginGate:
    """The plug-in policy (entry points read on first use) and the child-process inspector.

    The plug-in directories also go at the end of this process's import path: a plug-in
    vetted in the child is then run from the same place (nothing unvetted is imported by
    name, every name passes the gate first).
    """
    for path in map(str, settings.plugin_paths):
        if path not in sys.path:
            sys.path.append(path)
    return PluginGate(
        lambda: PluginPolicy(settings.plugin_packages, settings.strategy_entry_points()),
        SubprocessPluginInspector(
            settings.plugin_paths, timeout_seconds=settings.plugin_check_seconds
        ),
    )


def _audit_key(settings: QuantdeskSettings) -> AuditKey | None:
    secret = settings.audit_key_bytes()
    if secret is None:
        return None
    if len(secret) < MIN_KEY_BYTES:
        raise InvalidInputError(
            f"the audit key is too short ({len(secret)} bytes)",
            hint=f"use a random secret of at least {MIN_KEY_BYTES} bytes, e.g. `openssl rand "
            "-hex 32`",
        )
    return AuditKey(secret)


def _audit_head(settings: QuantdeskSettings, platform: Platform) -> AuditAnchor | None:
    """The registry's chain head for a run result; None while there is no registry yet."""
    if settings.database_url is None and not (settings.home / "quantdesk.db").exists():
        return None  # a backtest never creates the registry
    try:
        return platform.registry.audit_head()
    except QuantdeskError as error:  # the run does not need the registry: it only anchors it
        log.warning("the run records no audit anchor: %s", error)
        return None


def _run_anchors(platform: Platform) -> list[tuple[str, AuditAnchor]]:
    return [
        (f"run {result.run_id}", result.audit_head)
        for result in platform.backtests.results()
        if result.audit_head is not None
    ]


def _registry(
    settings: QuantdeskSettings,
    anchors: Callable[[], list[tuple[str, AuditAnchor]]],
    plugins: PluginGate,
    attach: Callable[[StrategyRegistry, Any], None] = lambda registry, database: None,
) -> tuple[StrategyRegistry, DatabaseService]:
    """The registry on its database (SQLite in the home, or PostgreSQL by URL); ``attach``
    builds what lives on the same database and listens to the registry (validation)."""
    from quantdesk.adapters.schemas.json_schema import JsonSchemaChecker
    from quantdesk.adapters.storage.audit_log import SqlAuditLog
    from quantdesk.adapters.storage.database import Database
    from quantdesk.adapters.storage.strategy_store import SqlStrategyStore

    database = Database(settings.database)  # migrated on first use
    key = _audit_key(settings)
    registry = StrategyRegistry(
        SqlStrategyStore(database, key),
        SqlAuditLog(database, key),
        JsonSchemaChecker(),
        key=key,
        anchors=anchors,
        plugins=plugins,
    )
    attach(registry, database)
    return registry, DatabaseService(database)


def _service(
    settings: QuantdeskSettings,
    platform: Platform,
    overrides: Overrides,
    signal_events: SignalEventTap,
) -> ServiceParts:
    """The network service's parts on one database handle (the registry's own database: the
    audit chain they append to is the registry's)."""
    from quantdesk.adapters.storage.database import Database

    database = Database(settings.database)
    audit = _audit(settings, platform, database)
    events = _events(settings, overrides.event_bus)
    _publish_changes(platform, events, signal_events)
    return ServiceParts(
        auth=_auth(settings, database),
        audit=audit,
        risk_limits=_risk_limits(settings, database),
        ingests=_ingests(settings),
        jobs=_jobs(settings, platform, database, events, overrides.job_runner),
        events=events,
        flags=_flags(settings, database),
    )


def _events(settings: QuantdeskSettings, channel: EventChannel | None = None) -> EventHub:
    """Events over Redis when it is configured (every server process sees each, under one
    sequence), within this process otherwise (``channel``: an override)."""
    if channel is None:
        if settings.redis_url is None:
            from quantdesk.adapters.messaging.in_process_events import InProcessEventChannel

            channel = InProcessEventChannel()
        else:
            from quantdesk.adapters.messaging.redis_events import RedisEventChannel

            channel = RedisEventChannel(settings.redis_url)
    return EventHub(channel, queue_size=settings.ws_queue_size)


def _publish_changes(platform: Platform, events: EventHub, signal_events: SignalEventTap) -> None:
    """The service's clients hear of strategy changes, signals' fates and kill switches."""
    platform.registry.subscribe(strategy_updates(events))
    platform.risk.subscribe(risk_alerts(events))
    signal_events.subscribe(signal_updates(events))


def _flags(settings: QuantdeskSettings, database: Any) -> FeatureFlagService:
    """Feature flags on the registry's database, each change sealed into its audit chain."""
    from quantdesk.adapters.storage.flag_store import SqlFlagStore

    return FeatureFlagService(
        SqlFlagStore(database, _audit_key(settings)), environment=settings.environment
    )


def _audit(settings: QuantdeskSettings, platform: Platform, database: Any = None) -> AuditTrail:
    """The service's audit trail on the registry's chain (``database``: the service's shared
    ``Database``; its own when None), verified the way ``quantdesk audit verify`` does."""
    from quantdesk.adapters.storage.audit_log import SqlAuditLog
    from quantdesk.adapters.storage.audit_search import SqlAuditSearch
    from quantdesk.adapters.storage.database import Database

    database = Database(settings.database) if database is None else database
    return AuditTrail(
        SqlAuditLog(database, _audit_key(settings)),
        SqlAuditSearch(database),
        lambda: platform.registry.verify_audit(),
    )


def _auth(settings: QuantdeskSettings, database: Any = None, audit_log: Any = None) -> AuthService:
    """Users, tokens and API keys on the registry's database, changes on its audit chain;
    access tokens signed with the secret in settings.token_secret_path (generated, 0600)."""
    from quantdesk.adapters.security.passwords import Argon2PasswordHasher
    from quantdesk.adapters.security.tokens import JwtTokenCodec, token_secret
    from quantdesk.adapters.storage.audit_log import SqlAuditLog
    from quantdesk.adapters.storage.database import Database
    from quantdesk.adapters.storage.user_store import SqlUserStore

    database = Database(settings.database) if database is None else database
    return AuthService(
        SqlUserStore(database),
        Argon2PasswordHasher(),
        JwtTokenCodec(token_secret(settings.token_secret_path)),
        SqlAuditLog(database, _audit_key(settings)) if audit_log is None else audit_log,
        access_token_minutes=settings.access_token_minutes,
        refresh_token_days=settings.refresh_token_days,
        login_attempts_per_minute=settings.login_attempts_per_minute,
    )


def _risk_limits(settings: QuantdeskSettings, database: Any = None) -> RiskLimitService:
    """The portfolio's risk limits, versioned on the registry's database (each set audited)."""
    from quantdesk.adapters.storage.database import Database
    from quantdesk.adapters.storage.risk_limit_store import SqlRiskLimitStore

    database = Database(settings.database) if database is None else database
    return RiskLimitService(SqlRiskLimitStore(database, _audit_key(settings)))


def _jobs(
    settings: QuantdeskSettings,
    platform: Platform,
    database: Any = None,
    events: EventPublisher | None = None,
    runner: JobRunner | None = None,
) -> JobService:
    """Jobs on the registry's database, run by worker processes (``runner``: an override)."""
    from quantdesk.adapters.jobs.local_pool import LocalProcessJobRunner
    from quantdesk.adapters.storage.database import Database
    from quantdesk.adapters.storage.job_store import SqlJobStore

    database = Database(settings.database) if database is None else database
    if runner is None:
        runner = LocalProcessJobRunner(
            functools.partial(run_job, settings),
            workers=settings.job_workers,
            time_limit_seconds=settings.job_time_limit_seconds,
            niceness=settings.job_niceness,
            preload=("quantdesk.bootstrap", "quantdesk.api.observability"),  # imported once
        )
    return JobService(
        SqlJobStore(database),
        runner,
        events,
        backtests=platform.backtests,
        on_restart=settings.jobs_on_restart,
    )


def run_job(
    settings: QuantdeskSettings, work: JobWork, channel: JobChannel
) -> Mapping[str, JsonValue]:
    """A job worker's entry (module-level: pickled by name into the child process): a
    platform of the worker's own from the service's settings, the job's correlation id bound,
    its log lines JSON like the server's (a worker starts with no logging configured)."""
    if not logging.getLogger().handlers:
        from logging.config import dictConfig

        from quantdesk.api.observability import log_config

        dictConfig(log_config())
    with correlated(work.correlation_id):
        return work.handler(bootstrap(settings), work.payload, channel)


def _ingests(settings: QuantdeskSettings) -> IngestRecords:
    """Ingest summaries and rejects by id, where the ingests write them."""
    return IngestRecords(settings.ingest_dir, settings.signals_dir / "rejects")


def _promoted(registry: StrategyRegistry, platform: Platform) -> StrategyRegistry:
    """Every ``live`` or ``validated`` tag passes the promotion gate (issue 15, R8.8), CLI
    and API alike; the research parts are built on the first such tag, not before."""
    from quantdesk.services.validation.promotion import PROMOTION_TAGS

    def guard(version: StrategyVersion, tag: str) -> None:
        if tag in PROMOTION_TAGS:
            platform.research.promotion.check_tag(version, tag)

    registry.guard_tags(guard)
    return registry


def _validated(
    registry: StrategyRegistry,
    checker: CompatibilityChecker,
    checkers: list[CompatibilityChecker],
    smoke: bool,
) -> None:
    """Every registration re-translated and re-validated (issue 13, Property 13)."""
    checkers.append(checker)
    registry.subscribe(checker.listener(registry.get, smoke=smoke))


def _compatibility(
    settings: QuantdeskSettings,
    catalog: ParquetCatalog,
    signals: ParquetSignalStore,
    plugins: PluginGate,
    database: Any,
) -> CompatibilityChecker:
    from quantdesk.adapters.nautilus.smoke_check import SubprocessSmokeRunner
    from quantdesk.adapters.nautilus.translate import decode
    from quantdesk.adapters.schemas.json_schema import JsonSchemaChecker
    from quantdesk.adapters.storage.validation_store import SqlValidationStore

    return CompatibilityChecker(
        catalog,
        SqlValidationStore(database),
        decode=decode,
        engine_version=catalog.engine_version,
        plugins=plugins,
        auditor=SubprocessPluginInspector(
            settings.plugin_paths, timeout_seconds=settings.plugin_check_seconds
        ),
        schemas=JsonSchemaChecker(),
        signals=signals,
        smoke=SubprocessSmokeRunner(
            settings.catalog_dir,
            search_paths=settings.plugin_paths,
            packages=settings.plugin_packages,
            entry_points=settings.strategy_entry_points,
        ),
        smoke_bars=settings.validation_smoke_bars,
        smoke_seconds=settings.validation_smoke_seconds,
    )
