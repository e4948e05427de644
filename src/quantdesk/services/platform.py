"""The use cases, wired: what ``bootstrap`` hands to the CLI, the service and Python users."""

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from quantdesk.domain.errors import InvalidInputError
from quantdesk.services.backtests import BacktestService
from quantdesk.services.catalog import CatalogService
from quantdesk.services.compatibility import CompatibilityChecker
from quantdesk.services.database import DatabaseService
from quantdesk.services.ingest import BarIngestService
from quantdesk.services.instruments import InstrumentService
from quantdesk.services.migrations import MigrationService
from quantdesk.services.ports.documents import DocumentReader
from quantdesk.services.ports.strategy_export import StrategyExporter
from quantdesk.services.registry import StrategyRegistry
from quantdesk.services.research_parts import ResearchParts
from quantdesk.services.risk import RiskService
from quantdesk.services.service_parts import ServiceParts
from quantdesk.services.signal_producers import SignalProducerService
from quantdesk.services.signal_routing import SignalRouter
from quantdesk.services.signals import SignalService
from quantdesk.services.synthetic import SyntheticMarketService
from quantdesk.services.tick_ingest import TickIngestService


@dataclass(frozen=True)
class Platform:
    """Every use case; the database-backed ones are built on first use.

    The registry's adapters (SQLAlchemy, Alembic, a JSON-schema validator) cost tens of MB
    and a second of start-up; a backtest or an ingest should not pay for them.
    """

    home: Path
    instruments: InstrumentService
    ingest: BarIngestService
    catalog: CatalogService
    synthetic: SyntheticMarketService
    backtests: BacktestService
    risk: RiskService
    producers: SignalProducerService
    signals: SignalService
    signal_router: SignalRouter
    documents: DocumentReader  # every YAML/JSON document a user hands us, read within bounds
    build_registry: Callable[[], tuple[StrategyRegistry, DatabaseService]] = field(repr=False)
    exporter: StrategyExporter = field(repr=False)  # code export of family versions
    build_compatibility: Callable[[], CompatibilityChecker] | None = field(
        default=None, repr=False
    )  # validation of versions; built with the registry (it listens to it)
    build_service: Callable[[], ServiceParts] | None = field(
        default=None, repr=False
    )  # the network service's parts: auth, jobs, events, flags (issue 14)
    build_research: Callable[[], ResearchParts] | None = field(
        default=None, repr=False
    )  # validation, promotion gate, optimisation, trial pools (issue 15)
    build_migrations: Callable[[], MigrationService] | None = field(
        default=None, repr=False
    )  # PostgreSQL tables into the catalog (issue 16)
    build_ticks: Callable[[], TickIngestService] | None = field(
        default=None, repr=False
    )  # trade/quote ticks and book deltas into the catalog (issue 16)

    @cached_property
    def _registry_and_database(self) -> tuple[StrategyRegistry, DatabaseService]:
        return self.build_registry()

    @property
    def registry(self) -> StrategyRegistry:
        return self._registry_and_database[0]

    @property
    def database(self) -> DatabaseService:
        return self._registry_and_database[1]

    @cached_property
    def service(self) -> ServiceParts:
        """Auth, jobs, events, flags...: what ``quantdesk serve`` and its CLI commands use."""
        if self.build_service is None:
            raise InvalidInputError("this desk was built without its network service")
        return self.build_service()

    @cached_property
    def research(self) -> ResearchParts:
        """Validation, the promotion gate and optimisation: `validation` and `optimize`."""
        if self.build_research is None:
            raise InvalidInputError("this desk was built without its research tools")
        return self.build_research()

    @cached_property
    def migrations(self) -> MigrationService:
        """Table migrations from PostgreSQL: ``data migrate``, ``data verify``."""
        if self.build_migrations is None:
            raise InvalidInputError("this desk was built without table migrations")
        return self.build_migrations()

    @cached_property
    def ticks(self) -> TickIngestService:
        """Tick and order-book ingest: ``data ingest trades / quotes / deltas``."""
        if self.build_ticks is None:
            raise InvalidInputError("this desk was built without tick ingest")
        return self.build_ticks()

    @property
    def compatibility(self) -> CompatibilityChecker:
        if self.build_compatibility is None:
            raise InvalidInputError("this desk validates no strategies")
        return self.build_compatibility()
