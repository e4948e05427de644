"""Settings from the environment (prefix ``QUANTDESK_``), read once by ``bootstrap``."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class QuantdeskSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QUANTDESK_", frozen=True, extra="ignore")

    home: Path = Field(
        default=Path(".quantdesk"), description="catalog, database, runs, reports and logs"
    )
    redis_url: str | None = Field(
        default=None,
        description="QUANTDESK_REDIS_URL: route signals over Redis Streams (default: in-process)",
    )
    database_url: str | None = Field(
        default=None,
        description="QUANTDESK_DATABASE_URL: registry and audit log on PostgreSQL "
        "(postgresql+psycopg://USER@HOST/DB); default: SQLite file HOME/quantdesk.db",
    )

    @property
    def database(self) -> str:
        """The SQLAlchemy URL of the registry's database."""
        return self.database_url or f"sqlite:///{self.home / 'quantdesk.db'}"

    @property
    def catalog_dir(self) -> Path:
        return self.home / "catalog"

    @property
    def runs_dir(self) -> Path:
        """One folder per backtest run: request, result, fills, positions, equity, report."""
        return self.home / "runs"

    @property
    def ingest_dir(self) -> Path:
        """One folder per ingest run: its summary and its rejected rows."""
        return self.home / "ingest"

    @property
    def signals_dir(self) -> Path:
        """Signal rejects, dead letters and the signal event log (signals live in the catalog)."""
        return self.home / "signals"
