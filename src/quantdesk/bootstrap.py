"""The composition root: settings -> adapters -> services -> CLI. Nothing else wires."""

from pathlib import Path

from quantdesk.adapters.nautilus.backtest import NautilusBacktestRunner
from quantdesk.adapters.nautilus.catalog import ParquetCatalog
from quantdesk.adapters.reporting.html_report import HtmlReportRenderer
from quantdesk.adapters.sources.bar_files import BarFileSource
from quantdesk.adapters.storage.kill_switches import FileKillSwitchStore
from quantdesk.adapters.storage.run_store import FileRunStore
from quantdesk.cli.app import create_cli
from quantdesk.services.backtests import BacktestService
from quantdesk.services.catalog import CatalogService
from quantdesk.services.ingest import BarIngestService
from quantdesk.services.instruments import InstrumentService
from quantdesk.services.platform import Platform
from quantdesk.services.risk import RiskService
from quantdesk.services.synthetic import SyntheticMarketService
from quantdesk.settings import QuantdeskSettings


def bootstrap(
    settings: QuantdeskSettings | None = None, *, home: Path | str | None = None
) -> Platform:
    """The Python API's entry point: ``bootstrap(home="./desk").ingest.ingest_bars(...)``."""
    if settings is None:
        settings = QuantdeskSettings() if home is None else QuantdeskSettings(home=Path(home))
    elif home is not None:
        settings = settings.model_copy(update={"home": Path(home)})
    catalog = ParquetCatalog(settings.catalog_dir)
    instruments = InstrumentService(catalog)
    ingest = BarIngestService(catalog, BarFileSource(), settings.ingest_dir)
    return Platform(
        home=settings.home,
        instruments=instruments,
        ingest=ingest,
        catalog=CatalogService(catalog),
        synthetic=SyntheticMarketService(instruments, ingest),
        backtests=BacktestService(
            catalog,
            NautilusBacktestRunner(catalog.root),
            FileRunStore(settings.runs_dir),
            HtmlReportRenderer(),
        ),
        risk=RiskService(FileKillSwitchStore(settings.home / "risk")),
    )


def main() -> None:
    """Console script ``quantdesk``."""
    create_cli(lambda home: bootstrap(home=home))()
