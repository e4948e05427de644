"""Settings from the environment (prefix ``QUANTDESK_``), read once by ``bootstrap``."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class QuantdeskSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QUANTDESK_", frozen=True, extra="ignore")

    home: Path = Field(
        default=Path(".quantdesk"), description="catalog, database, runs, reports and logs"
    )

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
