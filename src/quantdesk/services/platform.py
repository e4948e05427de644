"""The use cases, wired: what ``bootstrap`` hands to the CLI, the service and Python users."""

from dataclasses import dataclass
from pathlib import Path

from quantdesk.services.backtests import BacktestService
from quantdesk.services.catalog import CatalogService
from quantdesk.services.database import DatabaseService
from quantdesk.services.ingest import BarIngestService
from quantdesk.services.instruments import InstrumentService
from quantdesk.services.registry import StrategyRegistry
from quantdesk.services.risk import RiskService
from quantdesk.services.signal_producers import SignalProducerService
from quantdesk.services.signal_routing import SignalRouter
from quantdesk.services.signals import SignalService
from quantdesk.services.synthetic import SyntheticMarketService


@dataclass(frozen=True)
class Platform:
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
    registry: StrategyRegistry
    database: DatabaseService
