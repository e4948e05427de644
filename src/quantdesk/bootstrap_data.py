"""The data-workspace parts of the composition root: tick ingest, migrations from PostgreSQL.

Kept apart from ``bootstrap`` (one concern per screen of wiring); built on first use, so a
backtest never imports psycopg or opens the registry's database for them.
"""

from quantdesk.services.migrations import MigrationService, SourceOpener
from quantdesk.services.ports import MarketDataCatalog
from quantdesk.services.tick_ingest import TickIngestService
from quantdesk.settings import QuantdeskSettings


def build_migrations(
    settings: QuantdeskSettings,
    catalog: MarketDataCatalog,
    open_source: SourceOpener | None = None,
) -> MigrationService:
    """Migrations recorded in the registry's database, read from PostgreSQL (or
    ``open_source``: a test's own tables)."""
    from quantdesk.adapters.nautilus.tick_reads import ParquetTickCatalog
    from quantdesk.adapters.nautilus.tick_store import NautilusTickStore
    from quantdesk.adapters.storage.database import Database
    from quantdesk.adapters.storage.file_locks import FileRunLocks
    from quantdesk.adapters.storage.migration_store import SqlMigrationStore

    if open_source is None:
        from quantdesk.adapters.sources.postgres_tables import PostgresTableSource

        open_source = PostgresTableSource
    return MigrationService(
        catalog,
        SqlMigrationStore(Database(settings.database)),
        open_source,
        sources={name: url.get_secret_value() for name, url in settings.migration_sources.items()},
        locks=FileRunLocks(settings.home / "locks"),
        ticks=(NautilusTickStore(catalog.root), ParquetTickCatalog(catalog.root)),
    )


def build_ticks(settings: QuantdeskSettings, catalog: MarketDataCatalog) -> TickIngestService:
    """Trade ticks, quote ticks and book deltas into the catalog directory the bars use."""
    from quantdesk.adapters.nautilus.tick_store import NautilusTickStore
    from quantdesk.adapters.sources.tick_files import TickFileSource

    return TickIngestService(
        catalog, NautilusTickStore(catalog.root), TickFileSource(), settings.ingest_dir
    )
